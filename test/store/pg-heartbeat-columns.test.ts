/**
 * Issue 16, h75: a PostgreSQL heartbeat returns only the columns of its run
 * it does not set itself (`BEATEN_COLUMNS`: id, job_id, error_message,
 * created_at); the status (`running`, its guard), the heartbeat and
 * `updated_at` (the beat's instant) are known. The run it gives must still
 * be the run as stored — the port's `heartbeat` promises the `WorkflowRun`
 * — alone, inside a caller's transaction and in a group commit's shared
 * statement; a row not in the store's own form goes to the row Schema whole,
 * which decodes it or names its column as a whole row read back would.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { createRequire } from "node:module"
import { JobId, WorkflowRunId } from "../../src/domain/Ids.js"
import { WorkflowRun } from "../../src/domain/WorkflowRun.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { BEATEN_COLUMNS, fastBeatenRun } from "../../src/store/pg/rowCodec.js"
import { RunRow } from "../../src/store/pg/rows.js"
import { decodeBeaten } from "../../src/store/pg/runs.js"
import { services } from "../jobs/services.js"
import { connectPg, freshPgDatabase } from "../support/pg-database.js"
import { startedJob } from "./fixtures.js"

type Query = (this: object, ...args: Array<unknown>) => unknown
const pg = createRequire(import.meta.url)("pg") as { readonly Client: { readonly prototype: { query: Query } } }

/** The texts of the statements `pg` is sent while `effect` runs. */
const sentTexts = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const proto = pg.Client.prototype
      const original = proto.query
      const texts: Array<string> = []
      proto.query = function(this: object, ...args: Array<unknown>) {
        const [config] = args
        texts.push(typeof config === "string" ? config : String((config as { readonly text?: unknown } | null)?.text ?? ""))
        return original.apply(this, args)
      }
      return { proto, original, texts }
    }),
    ({ texts }) => Effect.map(effect, (value) => ({ value, texts })),
    ({ original, proto }) => Effect.sync(() => {
      proto.query = original
    })
  )

const runRowOf = Schema.encodeSync(RunRow)
const schemaRun = Schema.decodeUnknownEither(RunRow)

/** What a heartbeat's statement returns of the stored row `row`. */
const beatenRowOf = (row: Record<string, unknown>) =>
  Object.fromEntries(BEATEN_COLUMNS.split(", ").map((column) => [column, row[column]]))

/** `run` as a beat at `now` leaves it: running, its heartbeat and `updated_at` now. */
/** A run as a beat at `now` leaves it: its updated_at never before its created_at (runs.ts). */
const beatAt = (run: WorkflowRun, now: DateTime.Utc): WorkflowRun => ({
  ...run,
  status: "running",
  last_heartbeat: now,
  updated_at: DateTime.max(run.created_at, now)
})

const RUN: WorkflowRun = {
  id: WorkflowRunId.make("0192a0e0-0000-7000-8000-000000000001"),
  job_id: JobId.make("0192a0e0-0000-7000-8000-000000000002"),
  status: "running",
  last_heartbeat: DateTime.unsafeMake("2026-01-01T00:00:00.000Z"),
  error_message: null,
  created_at: DateTime.unsafeMake("2026-01-01T00:00:00.000Z"),
  updated_at: DateTime.unsafeMake("2026-01-01T00:00:00.000Z")
}

describe("issue 16 a PostgreSQL heartbeat returns only the columns it does not set", () => {
  it("R8 any running run beaten at a whole millisecond: the hand-built run from the returned columns is the Schema's decode of the whole row, fields in order", () =>
    FastCheck.assert(
      FastCheck.property(Arbitrary.make(WorkflowRun), (generated) => {
        const now = DateTime.unsafeMake(Math.floor(DateTime.toEpochMillis(generated.last_heartbeat)))
        const row = runRowOf(beatAt(generated, now)) as unknown as Record<string, unknown>
        const expected = schemaRun(row)
        assert.isTrue(Either.isRight(expected))
        const fast = fastBeatenRun(beatenRowOf(row), now)
        assert.isDefined(fast, "a row in the store's own form takes the fast path")
        if (Either.isRight(expected)) {
          assert.deepStrictEqual(fast, expected.right)
          assert.deepStrictEqual(Object.keys(fast!), Object.keys(expected.right), "fields in the Schema's order")
        }
      }),
      { numRuns: 300 }
    ))

  it("R8 odd rows and instants go to the row Schema whole: the value a whole row read back gives, or its CorruptRow naming the column", () => {
    const now = DateTime.unsafeMake("2026-01-02T03:04:05.678Z")
    const row = runRowOf(beatAt(RUN, now)) as unknown as Record<string, unknown>
    // An upper-case id: the fast tier refuses, the Schema canonicalises (as a whole row read back would).
    const upper = { ...beatenRowOf(row), id: RUN.id.toUpperCase() }
    assert.isUndefined(fastBeatenRun(upper, now))
    assert.deepStrictEqual(Effect.runSync(decodeBeaten(upper, now)), Either.getOrThrow(schemaRun({ ...row, id: RUN.id.toUpperCase() })))
    // An instant the domain does not allow (a test clock before 1970): the Schema's CorruptRow, naming the heartbeat.
    const before = DateTime.unsafeMake("1969-12-31T23:59:59.999Z")
    assert.isUndefined(fastBeatenRun(beatenRowOf(row), before))
    assert.strictEqual(Effect.runSync(Effect.flip(decodeBeaten(beatenRowOf(row), before))).column, "last_heartbeat")
    // Corrupt columns: the Schema's CorruptRow, naming each.
    for (
      const [column, value] of [
        ["error_message", "\u0000"],
        ["created_at", new Date("1969-12-31T23:59:59.999Z")],
        ["job_id", "not-a-uuid"]
      ] as const
    ) {
      const corrupt = Effect.runSync(Effect.flip(decodeBeaten({ ...beatenRowOf(row), [column]: value }, now)))
      assert.strictEqual(corrupt._tag, "CorruptRow")
      assert.strictEqual(corrupt.table, "workflow_runs")
      assert.strictEqual(corrupt.column, column)
    }
  })

  const withStore = <A, E>(label: string, body: (url: string) => Effect.Effect<A, E, JobStore | Scope.Scope>) =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase(label)
      const context = yield* Layer.build(services(PgStore.layer({ url, coalesce: true })))
      return yield* Effect.provide(body(url), context)
    })

  it.scopedLive("R8 each heartbeat's run is the run as stored: alone, inside a caller's transaction, and several sharing one statement", () =>
    withStore("heartbeat columns", (url) =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { run } = yield* startedJob()
        const alone = yield* store.heartbeat(run.id)
        assert.deepStrictEqual(alone, yield* store.getRun(run.id), "alone")
        const inside = yield* store.transaction(store.heartbeat(run.id))
        assert.deepStrictEqual(inside, yield* store.getRun(run.id), "inside a transaction")

        // Group commit: one heartbeat held on a locked table keeps the slot, the others line up behind
        // it, and one statement serves them when the lock goes.
        const started = yield* Effect.forEach(Array.from({ length: 6 }), () => startedJob())
        const holder = yield* Effect.acquireRelease(
          Effect.promise(async () => {
            const client = await connectPg(url)
            await client.query("BEGIN")
            await client.query("LOCK TABLE workflow_runs IN EXCLUSIVE MODE")
            return client
          }),
          (client) => Effect.promise(() => client.query("ROLLBACK").catch(() => undefined).then(() => client.end()))
        )
        const { texts, value: beaten } = yield* sentTexts(Effect.gen(function*() {
          const beats = yield* Effect.forEach(started, ({ run }) => Effect.fork(store.heartbeat(run.id)))
          // The first heartbeat waits on the lock; the others wait in group commit's line.
          for (let waiting = 0; waiting < 1;) {
            yield* Effect.sleep("10 millis")
            const { rows } = yield* Effect.promise(() =>
              holder.query<{ readonly n: string }>(
                "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
              )
            )
            waiting = Number(rows[0]?.n)
          }
          yield* Effect.promise(() => holder.query("COMMIT"))
          return yield* Effect.forEach(beats, Fiber.join)
        }))
        assert.strictEqual(texts.filter((text) => /WITH beaten AS/.test(text)).length, 1, "the five in line shared one statement")
        for (const [i, beat] of beaten.entries()) {
          assert.deepStrictEqual(beat, yield* store.getRun(started[i]!.run.id), `shared heartbeat ${i}`)
          assert.isTrue(beat.last_heartbeat.epochMillis >= started[i]!.run.last_heartbeat.epochMillis, "beaten")
        }
      })), 60_000)
})
