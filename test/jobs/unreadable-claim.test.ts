/**
 * A claimed job whose stored row does not decode. The databases accept
 * values the domain refuses — JSON columns are only checked to be JSON (an
 * array, for the lists), so `{"__proto__": 1}` or nesting past the depth
 * bound are stored as given by another tool or an old version (written here
 * by raw SQL, as they would). An entity ref that is no `EntityRef`, or on
 * SQLite a trace id that is no UUID, is refused since migration 0020, but a
 * database from before it may hold one: those are written with 0020's
 * trigger set aside for the write and back in place before the claim, which
 * must still fail the job (0020 judges only the values a write changes).
 * Claiming such a job must not strand it nor block the queue: the job fails
 * at once with its run, the reason naming the column and why, in a
 * lifecycle record written with them, and the claimer takes the next job.
 * On both stores, through the one-statement claim and the general one.
 * (Before: SQLite's claim rolled back and the job stayed first in the queue
 * for ever; PostgreSQL's one-statement claim left it `running` with nobody.)
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { FlightEvent } from "../../src/domain/FlightEvent.js"
import { MAX_DEPTH } from "../../src/domain/depth.js"
import { EventId, JobId } from "../../src/domain/Ids.js"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { engineOn } from "../engine/engine.js"
import { summarize } from "./jobs.suite.js"
import { rawStatement } from "./rawStatement.js"
import { services } from "./services.js"
import { type SharedBackend, type SharedDatabase, sharedBackends } from "./shared-database.js"

const nested = (depth: number): string => "[".repeat(depth) + "]".repeat(depth)

/**
 * Values a database stores in the column and the domain's Schema refuses, with what the refusal
 * says (`on`: only that store accepts it — SQLite's `trace_id` is unchecked text, PostgreSQL's a `uuid`).
 */
const unreadable: ReadonlyArray<{
  readonly column: string
  readonly value: string
  readonly says: string
  readonly on?: string
  /** Refused since that migration: written as a database from before it holds it. */
  readonly before?: "0020" | "0023"
}> = [
  { column: "job_inputs", value: `{"__proto__": 1}`, says: "__proto__" },
  { column: "job_inputs", value: nested(MAX_DEPTH + 2), says: "deep" },
  { column: "job_inputs", value: `{"n": 1e400}`, says: "finite", before: "0023" },
  {
    column: "entity_refs",
    value: "[1]",
    says: "EntityRef",
    before: "0020"
  },
  {
    column: "trace_id",
    value: "not-a-trace-id",
    says: "UUID",
    on: "SQLite file",
    before: "0020"
  },
  {
    column: "protocol_id",
    value: "hsk.test\u0000",
    says: "U+0000",
    on: "SQLite file",
    before: "0023"
  }
]

/** The ai_jobs UPDATE trigger of each migration that refuses such a value, by store. */
const updateTrigger = (migration: "0020" | "0023", backend: SharedBackend): string =>
  migration === "0020"
    ? "ai_jobs_domain_values_update"
    : backend.name === "PostgreSQL"
    ? "ai_jobs_json_numbers_update"
    : "ai_jobs_text_and_numbers_update"

/** Runs `write` with the ai_jobs UPDATE trigger `name` set aside, then puts it back as it was. */
const asBefore = <A, E, R>(name: string, database: SharedDatabase, backend: SharedBackend, write: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    if (backend.name === "PostgreSQL") {
      yield* rawStatement(database, backend, `ALTER TABLE ai_jobs DISABLE TRIGGER ${name}`)
      yield* write
      yield* rawStatement(database, backend, `ALTER TABLE ai_jobs ENABLE TRIGGER ${name}`)
      return
    }
    const [trigger] = yield* rawStatement(database, backend, "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = $1", [name])
    assert.isString(trigger?.sql, `${name} is there`)
    yield* rawStatement(database, backend, `DROP TRIGGER ${name}`)
    yield* write
    yield* rawStatement(database, backend, String(trigger?.sql))
  })

/** The store as built, or without its one-statement claim (the general path). */
const paths = [
  { name: "the one-statement claim", store: (store: JobStore["Type"]) => store },
  { name: "the general claim", store: ({ claimAdmitted: _, ...store }: JobStore["Type"]): JobStore["Type"] => store }
] as const

for (const backend of sharedBackends) {
  for (const path of paths) {
    describe(`a claimed job whose row does not decode, on ${backend.name}, through ${path.name}`, () => {
      for (const bad of unreadable.filter((bad) => bad.on === undefined || bad.on === backend.name)) {
        it.scoped(
          `R6 R10 ${bad.column} stored as ${bad.value.slice(0, 24)}: the job and its run fail at once, the record names the column and why, and the claimer takes the next job`,
          () =>
            Effect.gen(function*() {
              const database = yield* backend.fresh("unreadable claim")
              const store = path.store(yield* database.store())
              const jobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, store))), Jobs)
              const broken = yield* jobs.submit(summarize())
              const next = yield* jobs.submit(summarize())
              const write = rawStatement(database, backend, `UPDATE ai_jobs SET ${bad.column} = $1 WHERE id = $2`, [bad.value, broken.job_id])
              yield* bad.before === undefined ? write : asBefore(updateTrigger(bad.before, backend), database, backend, write)

              const claim = yield* jobs.claimNext()
              assert.strictEqual(claim?.job.job_id, next.job_id, "the claimer goes on with the next job")
              assert.isNull(yield* jobs.claimNext(), "nothing else is left to claim")

              const [job] = yield* rawStatement(database, backend, "SELECT status, workflow_run_id, status_reason, error_message FROM ai_jobs WHERE id = $1", [
                broken.job_id
              ])
              assert.strictEqual(job?.status, "failed")
              for (const text of [job?.status_reason, job?.error_message]) {
                assert.include(String(text), `column ${bad.column}`)
                assert.include(String(text), bad.says)
              }
              const runs = yield* rawStatement(database, backend, "SELECT id, status, error_message FROM workflow_runs WHERE job_id = $1", [broken.job_id])
              assert.deepStrictEqual(runs.map((run) => [String(run.id), run.status]), [[String(job?.workflow_run_id), "failed"]], "one run, failed")
              assert.include(String(runs[0]?.error_message), `column ${bad.column}`)

              const records = (yield* store.listEvents({ job_id: broken.job_id, limit: 100 })).items
              const failed = records.filter((record) => record.body["to_state"] === "failed")
              assert.strictEqual(failed.length, 1, "one record of the move to failed")
              const record = failed[0]!
              assert.strictEqual(record.workflow_run_id, runs[0]?.id)
              // A trace id that is itself what does not decode: the record carries the job's id as its trace.
              assert.strictEqual(record.trace_id, bad.column === "trace_id" ? broken.job_id : broken.trace_id)
              assert.include(String(record.body["reason"]), `column ${bad.column}`)
              assert.include(String(record.body["reason"]), bad.says)
              // PostgreSQL's one-statement claim commits before the row is decoded (the job left running); every
              // other claim rolls back on it (the job still queued): the record says which.
              const committed = backend.name === "PostgreSQL" && path.name === "the one-statement claim"
              assert.strictEqual(record.body["from_state"], committed ? "running" : "queued")
              assert.strictEqual(record.body["attempt"], 1, "the job's attempt, from its row")
              yield* Schema.decodeUnknown(FlightEvent)(record.body)
            }),
          60_000
        )
      }
    })
  }

  describe(`a worker pool meeting a job whose row does not decode, on ${backend.name}`, () => {
    it.live("issue 15 R6 the pool fails that job and runs every job queued behind it", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("unreadable pool")
        const { jobs } = yield* engineOn(database)
        const broken = yield* jobs.submit(summarize())
        const behind = yield* Effect.forEach(Array.from({ length: 4 }), () => jobs.submit(summarize()))
        yield* rawStatement(database, backend, `UPDATE ai_jobs SET job_inputs = '{"__proto__": 1}' WHERE id = $1`, [broken.job_id])
        yield* jobs.worker({ concurrency: 2, pollInterval: "50 millis", handlers: { doc_summarize: () => Effect.void } })
        const done = yield* Effect.forEach(behind, (job) => jobs.await(job.job_id, { timeout: "60 seconds" }))
        assert.deepStrictEqual(done.map((job) => job.state), behind.map(() => "completed"))
        const [row] = yield* rawStatement(database, backend, "SELECT status FROM ai_jobs WHERE id = $1", [broken.job_id])
        assert.strictEqual(row?.status, "failed")
      }).pipe(Effect.scoped), 120_000)
  })

  describe(`JobStore.failUnreadableJob on ${backend.name}`, () => {
    it.scoped("R6 a job already ended is left as it is (null, nothing written); a missing one is NotFound; bad input a DecodeFailure", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("unreadable refuses")
        const store = yield* database.store()
        const jobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, store))), Jobs)
        const job = yield* jobs.submit(summarize())
        yield* jobs.cancel(job.job_id)
        const before = yield* database.snapshot
        const [record] = (yield* store.listEvents({ job_id: job.job_id, limit: 1 })).items
        if (record === undefined) return assert.fail("setup: the job's records")
        // A record of its own: the body names the event's id, as every stored body does.
        const eventId = EventId.make(crypto.randomUUID())
        const event = { ...record, event_id: eventId, body: { ...record.body, event_id: eventId } }
        assert.isNull(yield* store.failUnreadableJob({ job_id: job.job_id, reason: "column x: unreadable", event }))
        const missing = yield* Effect.flip(store.failUnreadableJob({ job_id: JobId.make(crypto.randomUUID()), reason: "r", event }))
        assert.strictEqual(missing._tag, "NotFound")
        const empty = yield* Effect.flip(store.failUnreadableJob({ job_id: job.job_id, reason: "", event }))
        assert.strictEqual(empty._tag, "DecodeFailure")
        const malformed = yield* Effect.flip(store.failUnreadableJob({ job_id: "nope" as typeof job.job_id, reason: "r", event }))
        assert.strictEqual(malformed._tag, "DecodeFailure")
        assert.deepStrictEqual(yield* database.snapshot, before, "nothing written")
      }))
  })
}
