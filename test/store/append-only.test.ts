/**
 * R10: the Flight Recorder's log is append-only in the database itself, on
 * a SQLite file as on PostgreSQL (issue 11.8). Raw SQL from a connection of
 * its own — an operator's shell, another program — can neither overwrite an
 * event through an upsert nor commit a retention grant that would license a
 * later plain DELETE. The store's own purge keeps working.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { JobStore } from "../../src/store/JobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { openSqlite } from "../reliability/snapshot.js"
import { connectPg, freshPgDatabase } from "../support/pg-database.js"
import { at, eventRecord, ids } from "./fixtures.js"
import { firstRefusal } from "./pg-deployment.js"
import { tempDatabaseFile } from "./sqlite-support.js"

/** Raw SQL on a connection of its own; `run` resolves to the error it raised, or null. */
interface RawConnection {
  readonly run: (statements: ReadonlyArray<string>) => Promise<string | null>
  readonly close: () => Promise<void>
}

/** A database with raw access beside the store (the shared `Backend` has no raw connections of its own). */
interface RawTarget {
  readonly name: string
  /** A migrated store on a fresh database, and a way to open raw connections to it. */
  readonly open: Effect.Effect<{
    readonly store: JobStore["Type"]
    readonly raw: (options?: { readonly foreignKeysOff?: boolean }) => RawConnection
  }, unknown, Scope.Scope>
  /** An upsert over a taken event id, in this dialect. */
  readonly upserts: (eventId: string) => ReadonlyArray<string>
  /** A grant of a cutoff in the past: refused only because it would be committed. */
  readonly grant: string
  /** Grants of a cutoff later than their transaction's start (migration 0028): 'infinity' and the like, and one a moment ahead. */
  readonly futureGrants: ReadonlyArray<string>
  /** A grant renumbered before COMMIT: its deferred check, looking for the id it was inserted under, found none. */
  readonly renumbered: ReadonlyArray<string>
}

const sqliteFile: RawTarget = {
  name: "SQLite file",
  open: Effect.gen(function*() {
    const filename = yield* tempDatabaseFile()
    const store = Context.get(yield* Layer.build(SqliteStore.layer({ filename })), JobStore)
    return {
      store,
      raw: (options = {}) => {
        const db = openSqlite(filename)
        if (options.foreignKeysOff === true) db.pragma("foreign_keys = OFF")
        return {
          run: async (statements) => {
            try {
              for (const statement of statements) db.prepare(statement).run()
              return null
            } catch (error) {
              // A failed COMMIT leaves its transaction open.
              try {
                db.prepare("ROLLBACK").run()
              } catch {
                // none was open
              }
              return String((error as Error).message)
            }
          },
          close: async () => db.close()
        }
      }
    }
  }),
  upserts: (eventId) => [
    `INSERT OR REPLACE INTO flight_recorder_events VALUES ('${eventId}', '2030-01-01T00:00:00.000Z', 'system', 'diagnostic', '${eventId}', NULL, NULL, '{"forged":true}')`,
    `REPLACE INTO flight_recorder_events VALUES ('${eventId}', '2030-01-01T00:00:00.000Z', 'system', 'diagnostic', '${eventId}', NULL, NULL, '{"forged":true}')`,
    `INSERT INTO flight_recorder_events VALUES ('${eventId}', '2030-01-01T00:00:00.000Z', 'system', 'diagnostic', '${eventId}', NULL, NULL, '{"forged":true}')
       ON CONFLICT (event_id) DO UPDATE SET body = excluded.body`
  ],
  grant: "INSERT INTO flight_recorder_retention_grants (cutoff) VALUES ('2000-01-01T00:00:00.000Z')",
  futureGrants: [
    "INSERT INTO flight_recorder_retention_grants (cutoff) VALUES ('9999-12-31T23:59:59.999Z')",
    "INSERT INTO flight_recorder_retention_grants (cutoff) VALUES (strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+1 second'))"
  ],
  renumbered: ["UPDATE flight_recorder_retention_grants SET grant_id = grant_id + 1000"]
}

const postgres: RawTarget = {
  name: "PostgreSQL",
  open: Effect.gen(function*() {
    const url = yield* freshPgDatabase("append only")
    const store = Context.get(yield* Layer.build(PgStore.layer({ url })), JobStore)
    const clients: Array<Awaited<ReturnType<typeof connectPg>>> = []
    yield* Effect.addFinalizer(() => Effect.promise(() => Promise.all(clients.map((c) => c.end().catch(() => {})))))
    return {
      store,
      raw: () => {
        const client = connectPg(url).then((c) => (clients.push(c), c))
        return {
          run: async (statements) => firstRefusal(await client, statements),
          close: async () => (await client).end().catch(() => {})
        }
      }
    }
  }),
  upserts: (eventId) => [
    `INSERT INTO flight_recorder_events VALUES ('${eventId}', '2030-01-01T00:00:00Z', 'system', 'diagnostic', '${eventId}', NULL, NULL, '{"forged":true}')
       ON CONFLICT (event_id) DO UPDATE SET body = excluded.body`
  ],
  grant: "INSERT INTO flight_recorder_retention_grants (cutoff) VALUES ('2000-01-01T00:00:00Z')",
  futureGrants: [
    "INSERT INTO flight_recorder_retention_grants (cutoff) VALUES ('infinity')",
    // Later than now(), the transaction's start, by however little.
    "INSERT INTO flight_recorder_retention_grants (cutoff) VALUES (clock_timestamp())"
  ],
  renumbered: [
    "UPDATE flight_recorder_retention_grants SET grant_id = DEFAULT",
    "UPDATE flight_recorder_retention_grants SET cutoff = 'infinity'"
  ]
}

for (const backend of [sqliteFile, postgres]) {
  describe(`R10 the event log is append-only in the database on ${backend.name}`, () => {
    it.live("R10 an upsert over a recorded event (INSERT OR REPLACE, REPLACE INTO, ON CONFLICT DO UPDATE) is refused and the event stays as recorded", () =>
      Effect.gen(function*() {
        const { raw, store } = yield* backend.open
        const event = eventRecord({ timestamp: at(Date.UTC(2029, 0, 1)) })
        yield* store.appendEvents([event])
        const connection = raw()
        for (const upsert of backend.upserts(event.event_id)) {
          const refusal = yield* Effect.promise(() => connection.run([upsert]))
          assert.isNotNull(refusal, `ran: ${upsert.slice(0, 40)}`)
        }
        const [stored] = (yield* store.listEvents()).items
        assert.deepStrictEqual(stored?.body, event.body, "the recorded body, not the forged one")
      }).pipe(Effect.scoped), 60_000)

    it.live("R10 a retention grant cannot outlive its transaction, so a later plain DELETE of events stays refused", () =>
      Effect.gen(function*() {
        const { raw, store } = yield* backend.open
        // Older than the grants' cutoff: a grant that got committed would license its DELETE.
        yield* store.appendEvents([eventRecord({ timestamp: at(Date.UTC(1999, 0, 1)) })])
        const connection = raw()
        // Committed on its own, and committed at the end of an explicit transaction: both refused.
        assert.isNotNull(yield* Effect.promise(() => connection.run([backend.grant])), "a grant committed on its own")
        assert.isNotNull(yield* Effect.promise(() => connection.run(["BEGIN", backend.grant, "COMMIT"])), "a grant committed by COMMIT")
        // Found by an outside probe on PostgreSQL: a grant given another id before COMMIT was committed.
        for (const update of backend.renumbered) {
          assert.isNotNull(yield* Effect.promise(() => connection.run(["BEGIN", backend.grant, update, "COMMIT"])), `a grant changed: ${update}`)
        }
        if (backend === sqliteFile) {
          // Without foreign keys the deferred check would not run: such a connection may not take a grant at all.
          const noForeignKeys = raw({ foreignKeysOff: true })
          assert.isNotNull(yield* Effect.promise(() => noForeignKeys.run([backend.grant])), "a grant with foreign_keys off")
          yield* Effect.promise(() => noForeignKeys.close())
        }
        const deletion = yield* Effect.promise(() => raw().run(["DELETE FROM flight_recorder_events"]))
        assert.match(deletion ?? "DELETE ran", /append-only/)
        assert.strictEqual((yield* store.listEvents()).items.length, 1, "the event is still there")
        // The store's purge, which removes its grant before COMMIT, still works.
        assert.strictEqual(yield* store.purgeEventsBatch({ before: at(Date.UTC(2000, 0, 1)), batchSize: 10 }), 1)
      }).pipe(Effect.scoped), 60_000)

    // Found by an outside attacker's probe: in one transaction, a grant at 'infinity', a DELETE
    // of recent events and a DELETE of the grant committed, and the events were gone.
    it.live("R10 a grant whose cutoff is later than its transaction's start is refused (migration 0028): the attack of a grant, a DELETE of recent events and the grant's DELETE before COMMIT deletes nothing", () =>
      Effect.gen(function*() {
        const { raw, store } = yield* backend.open
        const now = yield* DateTime.now
        const recent = [
          eventRecord({ timestamp: now, type: "security_violation" }),
          eventRecord({ timestamp: now, type: "capability_action", actor: "human" }),
          eventRecord({ timestamp: now, type: "workflow_recovery", workflow_run_id: ids.run() })
        ]
        yield* store.appendEvents(recent)
        const connection = raw()
        for (const grant of backend.futureGrants) {
          const refusal = yield* Effect.promise(() =>
            connection.run(["BEGIN", grant, "DELETE FROM flight_recorder_events", "DELETE FROM flight_recorder_retention_grants", "COMMIT"])
          )
          assert.match(refusal ?? "the attack committed", /later than/, grant)
        }
        const left = (yield* store.listEvents()).items.map((event) => event.event_id)
        assert.sameMembers(left, recent.map((event) => event.event_id), "every recent event is still there")
      }).pipe(Effect.scoped), 60_000)

    it.live("R13 the store's purge deletes nothing newer than its own moment: a `before` in the future purges up to now, and an event stamped ahead of the clock stays", () =>
      Effect.gen(function*() {
        const { store } = yield* backend.open
        const now = yield* DateTime.now
        const past = eventRecord({ timestamp: DateTime.subtract(now, { hours: 1 }) })
        // Written by a host whose clock is an hour ahead of the database's.
        const ahead = eventRecord({ timestamp: DateTime.add(now, { hours: 1 }) })
        yield* store.appendEvents([past, ahead])
        assert.strictEqual(yield* store.purgeEventsBatch({ before: DateTime.add(now, { days: 1 }), batchSize: 10 }), 1)
        assert.deepStrictEqual((yield* store.listEvents()).items.map((event) => event.event_id), [ahead.event_id])
      }).pipe(Effect.scoped), 60_000)
  })
}
