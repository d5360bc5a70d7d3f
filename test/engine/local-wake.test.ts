/**
 * Issue 16 (pickup latency): a job submitted in this process wakes this
 * process's idle workers at once, after its commit — on PostgreSQL without
 * waiting for the database's NOTIFY to come back, as in process on SQLite.
 * The NOTIFY still goes out (other processes: test/engine/workers.test.ts);
 * the pool that claimed a job does not look again when its NOTIFY arrives; a
 * wake for a kind a pool does not serve does not make it look; and however
 * many times a job is announced and however many idle workers hear it, it is
 * claimed once. On SQLite (a file) and PostgreSQL.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import type { JobId } from "../../src/domain/Ids.js"
import type { JobKind } from "../../src/domain/JobKind.js"
import * as Jobs from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as WakeUp from "../../src/WakeUp.js"
import { summarize } from "../jobs/jobs.suite.js"
import { services } from "../jobs/services.js"
import { realSleep, type SharedDatabase, sharedBackends } from "../jobs/shared-database.js"
import { rawPgClient } from "../support/pg-database.js"

/**
 * `store` with every claim attempt that found nothing counted (the pool's
 * "looks" for work), so a test can tell a wake that made a worker look from
 * one that did not.
 */
const countingEmptyClaims = (store: JobStore["Type"]) => {
  let empty = 0
  const counted = <A, E, R>(claim: Effect.Effect<A, E, R>) =>
    Effect.tap(claim, (outcome) => Effect.sync(() => (outcome === null ? empty++ : undefined)))
  const wrapped: JobStore["Type"] = {
    ...store,
    claimNext: (options) => counted(store.claimNext(options)),
    ...(store.claimAdmitted !== undefined
      ? { claimAdmitted: (options: Parameters<NonNullable<JobStore["Type"]["claimAdmitted"]>>[0]) => counted(store.claimAdmitted!(options)) }
      : {})
  }
  const atLeast = (n: number): Effect.Effect<void> => Effect.suspend(() => (empty >= n ? Effect.void : Effect.zipRight(realSleep(5), atLeast(n))))
  return { store: wrapped, empty: () => empty, atLeast }
}

/** Jobs on `database` with the dialect's wake-up (or `wakeUp`), over `store`; not waiting for the listener. */
const jobsOn = (
  database: SharedDatabase,
  options: { readonly wakeUp?: Layer.Layer<WakeUp.WakeUp>; readonly wrap?: (store: JobStore["Type"]) => JobStore["Type"] } = {}
): Effect.Effect<{ readonly jobs: Jobs.Jobs["Type"]; readonly wakeUp: WakeUp.WakeUp["Type"] }, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const store = yield* database.store()
    const pg = database.url.startsWith("postgres")
    const wake = options.wakeUp ??
      (pg ? WakeUp.layerPg({ listenUrl: database.url, reconnectDelay: "100 millis" }) : WakeUp.layerInProcess)
    const context = yield* Layer.build(
      services(Layer.succeed(JobStore, options.wrap?.(store) ?? store), Recovery.layerNoStartupRecovery, wake)
    )
    return { jobs: Context.get(context, Jobs.Jobs), wakeUp: Context.get(context, WakeUp.WakeUp) }
  })

/** Until each of `jobIds` has been announced in `state` `n` times on `subscription` (on PostgreSQL the NOTIFY is the second). */
const announced = (subscription: WakeUp.Subscription, jobIds: ReadonlyArray<JobId>, state: string, n: number): Effect.Effect<void> => {
  const left = new Map(jobIds.map((id) => [id, n]))
  const next: Effect.Effect<void> = Effect.suspend(() =>
    [...left.values()].every((k) => k <= 0) ? Effect.void : Effect.flatMap(Queue.take(subscription), (signal) => {
      if (signal._tag === "JobChanged" && signal.state === state && left.has(signal.job_id)) {
        left.set(signal.job_id, left.get(signal.job_id)! - 1)
      }
      return next
    }))
  return next
}

/**
 * An idle one-worker pool of `doc_summarize` (30 s poll) on `database`, its
 * looks that found nothing counted; `starts` gets each job it starts with
 * that count as of the start; `seen` is a subscription of the test's own.
 * Returns once the pool has looked once and gone idle.
 */
const countedIdlePool = (database: SharedDatabase) =>
  Effect.gen(function*() {
    const counting = { current: undefined as ReturnType<typeof countingEmptyClaims> | undefined }
    const { jobs, wakeUp } = yield* jobsOn(database, { wrap: (store) => (counting.current = countingEmptyClaims(store)).store })
    yield* wakeUp.ready
    const claims = counting.current!
    const seen = yield* wakeUp.subscribe
    const starts = yield* Queue.unbounded<readonly [JobId, number]>()
    yield* jobs.worker({
      concurrency: 1,
      pollInterval: "30 seconds",
      handlers: { doc_summarize: (ctx) => Queue.offer(starts, [ctx.job.job_id, claims.empty()] as const) }
    })
    yield* claims.atLeast(1)
    return { claims, jobs, seen, starts }
  })

for (const backend of sharedBackends) {
  const pg = backend.name === "PostgreSQL"
  describe(`issue 16 pickup: a submit wakes this process's idle workers at once, on ${backend.name}`, () => {
    it.live(`issue 16 pickup ${backend.name}: a job submitted in this process starts on an idle local worker with no NOTIFY at all (the database's announcements cut), long before its 30 s poll`, () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("local wake no notify")
        const { jobs, wakeUp } = yield* jobsOn(database)
        assert.strictEqual(wakeUp.mode, pg ? "listen" : "in-process")
        yield* wakeUp.ready
        // On PostgreSQL the listener listens, but the database announces nothing any more (migration 0007's triggers off).
        if (pg) {
          yield* Effect.scoped(Effect.flatMap(Layer.build(rawPgClient(database.url)), (context) => {
            const sql = Context.get(context, SqlClient.SqlClient)
            return Effect.zipRight(
              sql`ALTER TABLE ai_jobs DISABLE TRIGGER ai_jobs_announce_insert`,
              sql`ALTER TABLE ai_jobs DISABLE TRIGGER ai_jobs_announce_state`
            )
          }))
        }
        const started = yield* Deferred.make<JobId>()
        yield* jobs.worker({ concurrency: 1, pollInterval: "30 seconds", handlers: { doc_summarize: (ctx) => Deferred.succeed(started, ctx.job.job_id) } })
        // The pool looks once, finds nothing and goes idle.
        yield* realSleep(300)
        const job = yield* jobs.submit(summarize())
        const ran = yield* Deferred.await(started).pipe(Effect.timeoutOption("10 seconds"))
        assert.strictEqual(Option.getOrUndefined(ran), job.job_id, "the local worker started the job without a NOTIFY or a poll")
      }).pipe(Effect.scoped), 60_000)

    it.live(`issue 16 pickup ${backend.name}: a wake for a kind the pool does not serve does not make it look; its own kind does, once`, () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("local wake other kind")
        const { jobs, seen, starts } = yield* countedIdlePool(database)
        const other = yield* Effect.forEach(["doc_edit", "doc_rewrite", "terminal_exec"] as const, (job_kind: JobKind) =>
          jobs.submit(summarize({ job_kind })))
        // Every announcement of them — in process, and on PostgreSQL the NOTIFY too — has been made.
        yield* announced(seen, other.map((job) => job.job_id), "queued", pg ? 2 : 1)
        const mine = yield* jobs.submit(summarize())
        // The pool took its signals in order: had any other kind woken it, it would have looked (and found nothing) before this job.
        assert.deepStrictEqual(yield* Queue.take(starts), [mine.job_id, 1], "only the pool's first look found nothing")
        for (const job of other) assert.strictEqual((yield* jobs.get(job.job_id)).state, "queued")
      }).pipe(Effect.scoped), 60_000)

    it.live(`issue 16 pickup ${backend.name}: the pool that claimed a job does not look again when the job's second announcement (the NOTIFY) arrives`, () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("local wake echo")
        const { claims, jobs, seen, starts } = yield* countedIdlePool(database)
        const first = yield* jobs.submit(summarize())
        assert.deepStrictEqual(yield* Queue.take(starts), [first.job_id, 1])
        // Every announcement of the first job has reached this process (on PostgreSQL its completion's
        // NOTIFY comes after its queued one's), and the pool has looked again after the run (as it does after each).
        yield* announced(seen, [first.job_id], "completed", 1)
        yield* claims.atLeast(2)
        // The pool takes its signals in order: a look the first job's second announcement caused would come before the second job.
        const second = yield* jobs.submit(summarize())
        assert.deepStrictEqual(yield* Queue.take(starts), [second.job_id, 2], "no look for the first job's second announcement")
      }).pipe(Effect.scoped), 60_000)

    it.live(`issue 16 pickup ${backend.name}: 50 concurrent submits heard by 4 idle workers (each woken by every announcement) are each claimed and run once`, () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("local wake race")
        const { jobs, wakeUp } = yield* jobsOn(database)
        yield* wakeUp.ready
        const ran = yield* Ref.make<ReadonlyArray<JobId>>([])
        // Four pools of one worker each: each has its own subscription, so every announcement wakes all four at once.
        for (let i = 0; i < 4; i++) {
          yield* jobs.worker({ concurrency: 1, pollInterval: "30 seconds", handlers: { doc_summarize: (ctx) => Ref.update(ran, (all) => [...all, ctx.job.job_id]) } })
        }
        yield* realSleep(300)
        const submitted = yield* Effect.forEach(Array.from({ length: 50 }, () => summarize()), (request) => jobs.submit(request), { concurrency: 50 })
        const done = yield* Effect.forEach(submitted, (job) => jobs.await(job.job_id, { timeout: "60 seconds" }), { concurrency: 10 })
        assert.isTrue(done.every((job) => job.state === "completed"), "every job completed")
        const all = yield* Ref.get(ran)
        assert.strictEqual(all.length, 50, "each job ran once")
        assert.strictEqual(new Set(all).size, 50)
        for (const job of submitted) {
          const history = yield* jobs.history(job.job_id)
          assert.strictEqual(history.runs.length, 1, "one run per job")
        }
      }).pipe(Effect.scoped), 120_000)
  })
}
