/**
 * R10: the Flight Recorder's log is append-only in the database itself, on
 * a SQLite file as on PostgreSQL (issue 11.8). Raw SQL from a connection of
 * its own — an operator's shell, another program — can neither overwrite an
 * event through an upsert nor commit a retention grant that would license a
 * later plain DELETE. The store's own purge keeps working.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { JobStore } from "../../src/store/JobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { openSqlite } from "../reliability/snapshot.js"
import { connectPg, freshPgDatabase } from "../support/pg-database.js"
import { at, eventRecord } from "./fixtures.js"
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
  readonly grant: string
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
  grant: "INSERT INTO flight_recorder_retention_grants (cutoff) VALUES ('9999-12-31T23:59:59.999Z')",
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
          run: async (statements) => {
            const c = await client
            try {
              for (const statement of statements) await c.query(statement)
              return null
            } catch (error) {
              await c.query("ROLLBACK").catch(() => {})
              return String((error as Error).message)
            }
          },
          close: async () => (await client).end().catch(() => {})
        }
      }
    }
  }),
  upserts: (eventId) => [
    `INSERT INTO flight_recorder_events VALUES ('${eventId}', '2030-01-01T00:00:00Z', 'system', 'diagnostic', '${eventId}', NULL, NULL, '{"forged":true}')
       ON CONFLICT (event_id) DO UPDATE SET body = excluded.body`
  ],
  grant: "INSERT INTO flight_recorder_retention_grants (cutoff) VALUES ('9999-12-31T23:59:59.999Z')",
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
        yield* store.appendEvents([eventRecord({ timestamp: at(Date.UTC(2029, 0, 1)) })])
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
        assert.strictEqual(yield* store.purgeEventsBatch({ before: at(Date.UTC(2030, 0, 1)), batchSize: 10 }), 1)
      }).pipe(Effect.scoped), 60_000)
  })
}
