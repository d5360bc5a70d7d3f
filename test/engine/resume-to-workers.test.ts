/**
 * An operator's resume run by worker pools, on SQLite (a file) and
 * PostgreSQL: `Jobs.resume` with `handTo: "workers"` (what the CLI and the
 * console do) offers the new run to pools, and a pool of the job's kind in
 * another process takes it within its poll interval and runs it — once. A
 * resume for the caller (the default) is never taken by a pool. An
 * application's own loop of `Jobs.claimNext` takes offers too, once a second.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import * as TestServices from "effect/TestServices"
import type { JobId } from "../../src/domain/Ids.js"
import type * as Jobs from "../../src/Jobs.js"
import type { JobStore } from "../../src/store/JobStore.js"
import { summarize } from "../jobs/jobs.suite.js"
import { rawStatement } from "../jobs/rawStatement.js"
import { realSleep, sharedBackends } from "../jobs/shared-database.js"
import { engineOn } from "./engine.js"

/**
 * A job whose worker died: claimed by another process and never run, then
 * stalled by recovery (every running run counted stale: the bound is ahead of now).
 */
const stalledJob = (jobs: Jobs.Jobs["Type"], store: JobStore["Type"], kind: "doc_summarize" | "doc_edit" = "doc_summarize") =>
  Effect.gen(function*() {
    const job = yield* jobs.submit(summarize({ job_kind: kind }))
    const claim = yield* jobs.claimNext({ kinds: [kind] })
    assert.strictEqual(claim?.job.job_id, job.job_id)
    const ahead = DateTime.add(yield* DateTime.now, { hours: 1 })
    yield* store.stallStaleRuns({ heartbeatBefore: ahead, threshold: Duration.seconds(30), limit: 100 })
    assert.strictEqual((yield* jobs.get(job.job_id)).state, "stalled")
    return job.job_id
  })

/**
 * The store with its looks for offers counted as each answers, so a test waits for a pool's
 * looks — one that found nothing before an offer, one made after it — instead of guessing how
 * long a pool takes.
 */
const countingLooks = (looks: Ref.Ref<number>) => (store: JobStore["Type"]): JobStore["Type"] => ({
  ...store,
  adoptOfferedRun: (options) => Effect.tap(store.adoptOfferedRun!(options), () => Ref.update(looks, (n) => n + 1))
})

/** Waits, in real time, until `looks` has reached `n`. */
const untilLooks = (looks: Ref.Ref<number>, n: number) =>
  Effect.gen(function*() {
    while ((yield* Ref.get(looks)) < n) yield* TestServices.provideLive(realSleep(10))
  })

/** Reads the job until it is `state`, in real time (at most `ms`). */
const untilState = (jobs: Jobs.Jobs["Type"], jobId: JobId, state: string, ms = 20_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + ms
    for (;;) {
      const job = yield* jobs.get(jobId)
      if (job.state === state) return job
      if (Date.now() > deadline) return assert.fail(`job ${jobId} is ${job.state}, not ${state}, after ${ms} ms`)
      yield* TestServices.provideLive(realSleep(20))
    }
  })

for (const backend of sharedBackends) {
  describe(`resumed jobs and worker pools on ${backend.name}`, () => {
    it.live("R6c an operator's resume in another process (handTo workers) is run by a pool of its kind, once, under the resumed run", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("resume to workers")
        const operator = yield* engineOn(database)
        const jobId = yield* stalledJob(operator.jobs, operator.store)
        const ran = yield* Ref.make<ReadonlyArray<string>>([])
        const worker = yield* engineOn(database)
        yield* worker.jobs.worker({
          concurrency: 2,
          pollInterval: "200 millis",
          handlers: { doc_summarize: (ctx) => Effect.as(Ref.update(ran, (all) => [...all, ctx.run.id]), { resumed: true }) }
        })
        const claim = yield* operator.jobs.resume(jobId, { actor: "human", reason: "worker replaced", handTo: "workers" })
        const done = yield* untilState(operator.jobs, jobId, "completed")
        assert.deepStrictEqual(done.job_outputs, { resumed: true })
        assert.strictEqual(done.status_reason, "", "R6 the completion says nothing of the resume's reason")
        assert.strictEqual(done.workflow_run_id, claim.run.id, "completed under the run the resume made")
        assert.deepStrictEqual(yield* Ref.get(ran), [claim.run.id], "run once, under that run")
        const runs = yield* operator.store.listRuns(jobId)
        assert.deepStrictEqual(runs.map((run) => run.status).sort(), ["completed", "stalled"], "the stalled run and the resumed one")
        // Nothing more to take: another look of a pool finds nothing.
        assert.isNull(yield* worker.store.adoptOfferedRun!({}))
      }).pipe(Effect.scoped), 60_000)

    it.live("R6c a resume for its caller (the default) is never taken by a pool: the caller runs it", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("resume to caller")
        const operator = yield* engineOn(database)
        const jobId = yield* stalledJob(operator.jobs, operator.store)
        const ran = yield* Ref.make(0)
        const looks = yield* Ref.make(0)
        const worker = yield* engineOn(database, { wrapStore: countingLooks(looks) })
        yield* worker.jobs.worker({
          concurrency: 1,
          pollInterval: "50 millis",
          handlers: { doc_summarize: () => Ref.update(ran, (n) => n + 1) }
        })
        const claim = yield* operator.jobs.resume(jobId, { actor: "human" })
        // Two more looks answered: at least one began after the resume had committed.
        yield* untilLooks(looks, (yield* Ref.get(looks)) + 2)
        assert.strictEqual(yield* Ref.get(ran), 0, "no pool ran it")
        assert.strictEqual((yield* operator.jobs.get(jobId)).state, "running")
        yield* operator.jobs.run(claim.job.job_id, () => Effect.succeed({ by: "caller" }))
        assert.deepInclude(yield* operator.jobs.get(jobId), { state: "completed", job_outputs: { by: "caller" } })
        assert.strictEqual(yield* Ref.get(ran), 0)
      }).pipe(Effect.scoped), 60_000)

    it.live("R6c a pool that never runs dry takes an offer within its poll interval, ahead of its queue; a pool of another kind never does", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("busy pool offer")
        const operator = yield* engineOn(database)
        const jobId = yield* stalledJob(operator.jobs, operator.store, "doc_edit")
        const order = yield* Ref.make<ReadonlyArray<string>>([])
        const note = (what: string) => Ref.update(order, (all) => [...all, what])
        const otherKind = yield* engineOn(database)
        yield* otherKind.jobs.worker({ concurrency: 1, pollInterval: "50 millis", handlers: { doc_summarize: () => note("other pool") } })
        const worker = yield* engineOn(database)
        const queued = yield* Effect.forEach(
          Array.from({ length: 60 }, () => summarize({ job_kind: "doc_rewrite" })),
          (request) => Effect.map(operator.jobs.submit(request), (job) => job.job_id)
        )
        const started = yield* Deferred.make<void>()
        yield* worker.jobs.worker({
          concurrency: 1,
          pollInterval: "300 millis",
          handlers: {
            doc_rewrite: () => Effect.zipRight(Deferred.succeed(started, undefined), Effect.zipRight(realSleep(50), note("queued"))),
            doc_edit: () => note("resumed")
          }
        })
        yield* Deferred.await(started)
        yield* operator.jobs.resume(jobId, { actor: "human", handTo: "workers" })
        yield* untilState(operator.jobs, jobId, "completed")
        const seen = yield* Ref.get(order)
        const ranBefore = seen.indexOf("resumed")
        assert.isAtLeast(ranBefore, 0)
        assert.isBelow(ranBefore, 30, `taken while the queue still had work (${ranBefore} queued jobs ran before it)`)
        assert.notInclude(seen, "other pool")
        const left = yield* Effect.forEach(queued, (id) => operator.jobs.get(id))
        assert.isAbove(left.filter((job) => job.state === "queued").length, 0, "the pool had not run dry")
      }).pipe(Effect.scoped), 90_000)

    it.live("R6c a batch of resumes offered before a pool starts is taken by all its idle loops at once, each run once — not one per poll interval (the rest re-stalled by recovery 30 s later)", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("resume batch")
        const operator = yield* engineOn(database)
        const ids: Array<JobId> = []
        for (let i = 0; i < 12; i++) ids.push(yield* stalledJob(operator.jobs, operator.store))
        // Offered before the pool exists: no announcement reaches it, only its own looks.
        yield* Effect.forEach(ids, (jobId) => operator.jobs.resume(jobId, { actor: "human", handTo: "workers" }), { discard: true })
        const ran = yield* Ref.make<ReadonlyArray<string>>([])
        const worker = yield* engineOn(database)
        // A poll of an hour: each look after the first is due only because the one before found a run.
        yield* worker.jobs.worker({
          concurrency: 4,
          pollInterval: "1 hour",
          handlers: { doc_summarize: (ctx) => Effect.zipRight(realSleep(20), Ref.update(ran, (all) => [...all, ctx.run.id])) }
        })
        for (const jobId of ids) yield* untilState(operator.jobs, jobId, "completed", 30_000)
        const runs = yield* Ref.get(ran)
        assert.strictEqual(runs.length, ids.length, "each run once")
        assert.strictEqual(new Set(runs).size, ids.length)
        assert.isNull(yield* worker.store.adoptOfferedRun!({}), "nothing left offered")
      }).pipe(Effect.scoped), 90_000)

    it.live("R6c an offered job whose row no longer decodes fails at once with its run, the reason naming the column; the pool takes the next offer", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("unreadable offer")
        const operator = yield* engineOn(database)
        const broken = yield* stalledJob(operator.jobs, operator.store)
        const good = yield* stalledJob(operator.jobs, operator.store)
        yield* operator.jobs.resume(broken, { actor: "human", handTo: "workers" })
        yield* operator.jobs.resume(good, { actor: "human", handTo: "workers" })
        // Written by another tool: a value the database accepts and the domain refuses.
        yield* rawStatement(database, backend, `UPDATE ai_jobs SET job_inputs = '{"__proto__": 1}' WHERE id = $1`, [broken])
        const ran = yield* Ref.make<ReadonlyArray<string>>([])
        const worker = yield* engineOn(database)
        yield* worker.jobs.worker({
          concurrency: 1,
          pollInterval: "200 millis",
          handlers: { doc_summarize: (ctx) => Ref.update(ran, (all) => [...all, ctx.job.job_id]) }
        })
        yield* untilState(operator.jobs, good, "completed")
        assert.deepStrictEqual(yield* Ref.get(ran), [good], "the good offer ran; the unreadable one never reached a program")
        const [row] = yield* rawStatement(database, backend, "SELECT status, error_message FROM ai_jobs WHERE id = $1", [broken])
        assert.strictEqual(row?.["status"], "failed")
        assert.include(String(row?.["error_message"]), "__proto__")
        const runs = yield* rawStatement(database, backend, "SELECT status FROM workflow_runs WHERE job_id = $1 ORDER BY created_at", [broken])
        assert.deepStrictEqual(runs.map((run) => run["status"]), ["stalled", "failed"], "the resumed run failed with its job")
        assert.isNull(yield* worker.store.adoptOfferedRun!({}), "no offer left")
      }).pipe(Effect.scoped), 60_000)

    it.live("R6c an idle pool with a 30 s poll takes an offer at once, woken by its announcement (LISTEN/NOTIFY from another process on PostgreSQL; in process on SQLite)", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("offer wakes pool")
        const looks = yield* Ref.make(0)
        const worker = yield* engineOn(database, { wrapStore: countingLooks(looks) })
        // On SQLite a wake-up reaches only its own process: the operator is the pool's process there.
        const operator = backend.name === "PostgreSQL" ? yield* engineOn(database) : worker
        const jobId = yield* stalledJob(operator.jobs, operator.store)
        const started = yield* Deferred.make<void>()
        yield* worker.jobs.worker({ concurrency: 1, pollInterval: "30 seconds", handlers: { doc_summarize: () => Deferred.succeed(started, undefined) } })
        // The pool's first look (the queue, then offers) finds nothing, and it parks for 30 s.
        yield* untilLooks(looks, 1)
        yield* operator.jobs.resume(jobId, { actor: "human", handTo: "workers" })
        const woken = yield* Deferred.await(started).pipe(Effect.timeoutOption("10 seconds"))
        assert.isTrue(woken._tag === "Some", "the program started long before the 30 s poll")
        yield* untilState(operator.jobs, jobId, "completed")
      }).pipe(Effect.scoped), 60_000)

    it.effect("issue 15.8 under TestClock: a pool takes an offered run when TestClock.adjust reaches its poll, not before", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("offer testclock")
        const operator = yield* engineOn(database, { wake: "poll" })
        const jobId = yield* stalledJob(operator.jobs, operator.store)
        const looks = yield* Ref.make(0)
        const worker = yield* engineOn(database, { wake: "poll", wrapStore: countingLooks(looks) })
        const started = yield* Deferred.make<void>()
        yield* worker.jobs.worker({ concurrency: 1, pollInterval: "1 minute", handlers: { doc_summarize: () => Deferred.succeed(started, undefined) } })
        // The pool's first look (the queue, then offers) finds nothing; then the offer is made behind its back.
        yield* untilLooks(looks, 1)
        yield* operator.jobs.resume(jobId, { actor: "human", handTo: "workers" })
        yield* TestServices.provideLive(realSleep(300))
        assert.isFalse(yield* Deferred.isDone(started), "not before the poll")
        yield* TestClock.adjust("1 minute")
        yield* Deferred.await(started)
        yield* untilState(operator.jobs, jobId, "completed")
      }).pipe(Effect.scoped), 60_000)

    it.live("R6c an application's own worker loop (Jobs.claimNext, no pool) takes a run offered to workers, ahead of its queue, once, and runs it under that run", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("claimNext offer")
        const operator = yield* engineOn(database)
        const jobId = yield* stalledJob(operator.jobs, operator.store)
        const queued = yield* operator.jobs.submit(summarize())
        const resumed = yield* operator.jobs.resume(jobId, { actor: "human", handTo: "workers" })
        const worker = yield* engineOn(database)
        // Another kind's loop does not take it.
        assert.isNull(yield* worker.jobs.claimNext({ kinds: ["doc_edit"] }))
        const loop = yield* engineOn(database)
        const first = yield* loop.jobs.claimNext({ kinds: ["doc_summarize"] })
        assert.strictEqual(first?.job.job_id, jobId, "the offered run before the queued job")
        assert.strictEqual(first?.run.id, resumed.run.id, "under the run the resume made")
        assert.isTrue(
          DateTime.greaterThanOrEqualTo(first!.run.last_heartbeat, resumed.run.last_heartbeat),
          "its heartbeat set when taken"
        )
        const second = yield* loop.jobs.claimNext({ kinds: ["doc_summarize"] })
        assert.strictEqual(second?.job.job_id, queued.job_id, "then the queue")
        assert.isNull(yield* loop.jobs.claimNext({ kinds: ["doc_summarize"] }))
        assert.isNull(yield* loop.store.adoptOfferedRun!({}), "the offer was taken once")
        yield* loop.jobs.run(jobId, () => Effect.succeed({ by: "loop" }))
        const done = yield* operator.jobs.get(jobId)
        assert.deepInclude(done, { state: "completed", job_outputs: { by: "loop" }, workflow_run_id: resumed.run.id })
      }).pipe(Effect.scoped), 60_000)

    it.effect("R6c Jobs.claimNext looks for offered runs once a second (TestClock), not on every claim", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("claimNext offer interval")
        const operator = yield* engineOn(database, { wake: "poll" })
        const jobId = yield* stalledJob(operator.jobs, operator.store)
        const looks = yield* Ref.make(0)
        const loop = yield* engineOn(database, { wake: "poll", wrapStore: countingLooks(looks) })
        assert.isNull(yield* loop.jobs.claimNext(), "the first claim looks, and finds no offer yet")
        assert.strictEqual(yield* Ref.get(looks), 1)
        const resumed = yield* operator.jobs.resume(jobId, { actor: "human", handTo: "workers" })
        assert.isNull(yield* loop.jobs.claimNext(), "within the second: the queue alone")
        assert.strictEqual(yield* Ref.get(looks), 1)
        yield* TestClock.adjust("1 second")
        const taken = yield* loop.jobs.claimNext()
        assert.strictEqual(taken?.run.id, resumed.run.id)
        assert.strictEqual(yield* Ref.get(looks), 2)
      }).pipe(Effect.scoped), 60_000)
  })
}
