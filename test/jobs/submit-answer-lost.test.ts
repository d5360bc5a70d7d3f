/**
 * R15 / issue 16 submit, its write's answer lost (a known gap of stop 70,
 * closed): the submit's `createJob` (or `submitMany`'s `createJobs`)
 * committed, then the connection dropped before its answer was read. The
 * caller was told `StorageError` for jobs that exist and will run, and a
 * retry without its own job id queued them twice. Now the submit reads back
 * whether its write committed, by the `queued` event id it chose before the
 * write:
 * - committed: the submit answers the jobs exactly as the store would have
 *   (the rows as stored), and they were queued once;
 * - not committed (the write failed before its commit): the write's error,
 *   and nothing stored;
 * - the look failing too: the write's error, and a warning naming the job.
 *
 * The lost answer is forced by wrapping the real store (the write commits,
 * then its caller is told `StorageError`), on SQLite and PostgreSQL. The
 * eager write's own read-back is test/engine/eager-answer-lost.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { AiJob } from "../../src/domain/AiJob.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import { capturingLog } from "../support/capturedLog.js"
import { audit } from "../reliability/invariants.js"
import { jobsOver, type Store } from "../engine/eagerPools.js"
import { summarize } from "./jobs.suite.js"
import { sharedBackends } from "./shared-database.js"

const lost = (operation: string) => new StorageError({ operation, cause: new Error("simulated: Connection terminated unexpectedly") })

/**
 * `store` whose next creation, once armed, commits and then answers
 * `StorageError` (`lose`), or fails before writing anything (`refuse`); and
 * whose event look fails while `lookDown`.
 */
const losingCreations = (store: Store) => {
  const state = { next: "answer" as "answer" | "lose" | "refuse", lost: 0, lookDown: false }
  const outcome = <A, E>(operation: string, write: Effect.Effect<A, E>) => {
    const mode = state.next
    state.next = "answer"
    if (mode === "refuse") return Effect.fail(lost(operation))
    return Effect.flatMap(write, (answer) => {
      if (mode === "answer") return Effect.succeed(answer)
      state.lost++
      return Effect.fail(lost(operation))
    })
  }
  const wrapped: Store = {
    ...store,
    listEvents: (filter) =>
      state.lookDown ? Effect.fail(new StorageError({ operation: "JobStore.listEvents", cause: new Error("simulated: the connection is still down") })) : store.listEvents(filter),
    createJob: (job, options) => outcome("JobStore.createJob", store.createJob(job, options)),
    createJobs: (jobs, options) => outcome("JobStore.createJobs", store.createJobs(jobs, options))
  }
  return { state, store: wrapped }
}

const encoded = Schema.encodeSync(AiJob)

/** The job's lifecycle moves, in order. */
const movesOf = (events: ReadonlyArray<{ readonly type: string; readonly body: Record<string, unknown> }>) =>
  events.flatMap((event) => event.type === "system" && "to_state" in event.body ? [`${event.body["from_state"] ?? "∅"}→${event.body["to_state"]}`] : [])

for (const backend of sharedBackends) {
  describe(`R15 submit on ${backend.name}, its write's answer lost`, () => {
    it.live(`R15 submit ${backend.name}: a createJob that committed but lost its answer — submit answers the job as stored, queued once`, () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("submit answer lost")
        const losing = losingCreations(yield* database.store())
        const jobs = yield* jobsOver(database, losing.store)
        losing.state.next = "lose"
        const job = yield* jobs.submit(summarize({ job_inputs: { document: "a.md", nested: { b: 1, a: [true, null] } } }))
        assert.strictEqual(losing.state.lost, 1, "the write committed and its answer was lost")
        const listed = (yield* jobs.list()).items
        assert.lengthOf(listed, 1, "one job: queued once")
        assert.deepStrictEqual(encoded(job), encoded(listed[0]!), "answered as the store answers it: the row as stored")
        assert.deepStrictEqual(movesOf((yield* jobs.history(job.job_id)).events), ["∅→queued"])
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)

    it.live(`R15 submitMany ${backend.name}: a createJobs that committed but lost its answer — submitMany answers every job as stored, each queued once`, () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("submitMany answer lost")
        const losing = losingCreations(yield* database.store())
        const jobs = yield* jobsOver(database, losing.store)
        losing.state.next = "lose"
        const created = yield* jobs.submitMany([summarize(), summarize({ priority: 5 }), summarize({ job_inputs: { n: 3 } })])
        assert.strictEqual(losing.state.lost, 1)
        const listed = (yield* jobs.list()).items
        assert.lengthOf(listed, 3)
        const byId = new Map(listed.map((job) => [job.job_id, job]))
        for (const job of created) assert.deepStrictEqual(encoded(job), encoded(byId.get(job.job_id)!))
        for (const job of created) assert.deepStrictEqual(movesOf((yield* jobs.history(job.job_id)).events), ["∅→queued"])
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)

    it.live(`R15 submit ${backend.name}: a write that failed before committing stays the write's StorageError, nothing stored`, () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("submit write refused")
        const losing = losingCreations(yield* database.store())
        const jobs = yield* jobsOver(database, losing.store)
        losing.state.next = "refuse"
        const one = yield* Effect.flip(jobs.submit(summarize()))
        assert.strictEqual(one._tag, "StorageError")
        assert.include(one.message, "Connection terminated unexpectedly")
        losing.state.next = "refuse"
        const many = yield* Effect.flip(jobs.submitMany([summarize(), summarize()]))
        assert.strictEqual(many._tag, "StorageError")
        assert.lengthOf((yield* jobs.list()).items, 0)
        assert.lengthOf((yield* losing.store.listEvents({})).items, 0, "no event either")
      }).pipe(Effect.scoped), 60_000)

    it.live(`R15 submit ${backend.name}: when looking up the lost write fails too, submit fails with the write's error and a warning names the job`, () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("submit answer lost look down")
        const losing = losingCreations(yield* database.store())
        const jobs = yield* jobsOver(database, losing.store)
        losing.state.next = "lose"
        losing.state.lookDown = true
        const log = capturingLog(["WARN"])
        const refused = yield* Effect.flip(log.provide(jobs.submit(summarize())))
        losing.state.lookDown = false
        assert.strictEqual(refused._tag, "StorageError")
        assert.include(refused.message, "Connection terminated unexpectedly", "the write's own error")
        const listed = (yield* jobs.list()).items
        assert.lengthOf(listed, 1, "it committed")
        assert.strictEqual(listed[0]!.state, "queued")
        assert.lengthOf(log.lines.filter((line) => line.includes(listed[0]!.job_id) && line.includes("will run")), 1)
      }).pipe(Effect.scoped), 60_000)
  })
}
