/**
 * Issue 16 (pickup latency), eager dispatch: a job submitted in this process
 * while a worker pool of this process is parked waiting for its kind is
 * created and claimed for that pool in the submit's own write
 * (`JobStore.createClaimed`), and the pool runs it without claiming. What a
 * user relies on, on SQLite (a file) and PostgreSQL:
 * - the job runs once, on the parked pool, with the same history as a claimed one;
 * - no job is taken out of turn: a queued job of the pool's kinds that comes
 *   first is run first, and the new one waits its turn;
 * - a job scheduled for later, of a kind no pool serves, or submitted inside a
 *   caller's transaction is queued as before;
 * - a pool that closes while a submit's write is in flight hands the job back
 *   to the queue: no job is left `running` with no one to run it (forced: the
 *   write is held after its commit until the pool has closed); nor is a claim
 *   handed over and not yet taken by a loop when the pool closes (forced: the
 *   pool's one loop is held by another job's program);
 * - a failed eager write gives its loop back; a pool may turn eager dispatch off;
 * - many submits racing for few parked loops: every job runs exactly once.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import type { JobId } from "../../src/domain/Ids.js"
import { summarize } from "../jobs/jobs.suite.js"
import { newJob } from "../store/fixtures.js"
import { realSleep, sharedBackends } from "../jobs/shared-database.js"
import { countingEager, jobsOver, parkedBehindOlderJob, parkedPool, silenceAnnouncements, takeWithin } from "./eagerPools.js"

for (const backend of sharedBackends) {
  describe(`issue 16 pickup, eager dispatch on ${backend.name}`, () => {
    it.live(`issue 16 eager dispatch ${backend.name}: a job submitted while a local worker is parked is created and claimed in one write, and runs there once with a claim's history`, () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("eager dispatch")
        const base = yield* database.store()
        assert.isDefined(base.createClaimed, "both stores have the eager write")
        const { counts, store, untilLooks } = countingEager(base)
        const jobs = yield* jobsOver(database, store)
        const starts = yield* Queue.unbounded<JobId>()
        yield* parkedPool(jobs, starts, untilLooks)
        const job = yield* jobs.submit(summarize())
        assert.strictEqual(job.state, "queued", "submit returns the job as it was created")
        assert.strictEqual(yield* takeWithin(starts, "the job's start"), job.job_id)
        assert.deepStrictEqual(counts, { writes: 1, claimed: 1 }, "created and claimed in the submit's write")
        const done = yield* jobs.await(job.job_id, { timeout: "10 seconds" })
        assert.strictEqual(done.state, "completed")
        const history = yield* jobs.history(job.job_id)
        assert.strictEqual(history.runs.length, 1, "one run")
        const moves = history.events.flatMap((event) =>
          event.type === "system" && "to_state" in event.body ? [`${event.body["from_state"] ?? "∅"}→${event.body["to_state"]}`] : []
        )
        assert.deepStrictEqual(moves, ["∅→queued", "queued→running", "running→completed"], "the lifecycle in order")
        // The claim re-checks the policy as any claim does: a decision at submit, one at claim.
        assert.strictEqual(history.events.filter((event) => event.type === "capability_action").length, 2)
        const run = history.runs[0]!
        assert.strictEqual(history.events.find((event) => event.body["to_state"] === "running")!.workflow_run_id, run.run.id)
      }).pipe(Effect.scoped), 60_000)

    it.live(`R15 R18 eager dispatch ${backend.name} (found by an outside attacker's probe): a job submitted pinned to a parked worker has the pin's event between queued and running; another caller's refused id is AlreadyExists before any seat is taken`, () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("eager dispatch audit")
        const base = yield* database.store()
        const { attempts, counts, store, untilLooks } = countingEager(base)
        const jobs = yield* jobsOver(database, store)
        const starts = yield* Queue.unbounded<JobId>()
        yield* parkedPool(jobs, starts, untilLooks)
        const id = "0190a9d2-7a1e-7c4b-8d2e-00000000ca11"
        const refusal = yield* Effect.either(jobs.submit(summarize({ job_id: id, profile_id: "mallory", capability_profile_id: "Coder" })))
        assert.strictEqual(Either.isLeft(refusal) ? refusal.left._tag : "queued", "EscalationDenied")
        const taken = yield* Effect.either(jobs.submit(summarize({ job_id: id, profile_id: "alice" })))
        assert.deepStrictEqual(Either.isLeft(taken) && taken.left._tag === "AlreadyExists" ? [taken.left.id, taken.left.refused_request] : taken, [id, true])
        assert.strictEqual(attempts.count, 0, "refused before the parked loop's seat was taken")
        const job = yield* jobs.submit(summarize({ is_pinned: true }))
        assert.strictEqual(yield* takeWithin(starts, "the job's start"), job.job_id)
        assert.deepStrictEqual(counts, { writes: 1, claimed: 1 }, "created pinned and claimed in the submit's write")
        const history = yield* jobs.history(job.job_id)
        assert.deepStrictEqual(
          history.events.flatMap((event) => event.type === "system" ? [[event.body["from_state"], event.body["to_state"], event.body["reason"] ?? null]] : []).slice(0, 3),
          [[null, "queued", null], ["queued", "queued", "pinned"], ["queued", "running", null]]
        )
      }).pipe(Effect.scoped), 60_000)

    it.live(`issue 16 eager dispatch ${backend.name}: a queued job of the pool's kind that comes first is not passed over — it runs first, the new one after`, () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("eager dispatch order")
        const base = yield* database.store()
        yield* silenceAnnouncements(database)
        const { counts, store, untilLooks } = countingEager(base)
        const jobs = yield* jobsOver(database, store)
        // Queued behind the parked pool's back: no announcement reaches it, its poll is 30 s away.
        const { older, starts } = yield* parkedBehindOlderJob(jobs, base, untilLooks)
        const newer = yield* jobs.submit(summarize())
        assert.deepStrictEqual(counts, { writes: 1, claimed: 0 }, "the eager write saw the older job first and only queued")
        assert.strictEqual(yield* takeWithin(starts, "the first start"), older.job_id, "the older job first")
        assert.strictEqual(yield* takeWithin(starts, "the second start"), newer.job_id)
      }).pipe(Effect.scoped), 60_000)

    it.live(`issue 16 eager dispatch ${backend.name}: a job due later, of a kind no parked pool serves, or submitted inside a transaction is queued as before`, () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("eager dispatch not")
        const base = yield* database.store()
        const { counts, store, untilLooks } = countingEager(base)
        const jobs = yield* jobsOver(database, store)
        const starts = yield* Queue.unbounded<JobId>()
        yield* parkedPool(jobs, starts, untilLooks)
        const later = yield* jobs.submit(summarize({ run_after: DateTime.unsafeMake(Date.now() + 3_600_000) }))
        const other = yield* jobs.submit(summarize({ job_kind: "doc_edit" }))
        assert.deepStrictEqual(counts, { writes: 0, claimed: 0 }, "no eager write for either")
        for (const job of [later, other]) assert.strictEqual((yield* jobs.get(job.job_id)).state, "queued")
        // In a caller's transaction that then fails: nothing is claimed, nothing is written, nothing runs.
        const rolledBack = yield* Effect.exit(store.transaction(Effect.flatMap(jobs.submit(summarize()), (job) => Effect.fail(job.job_id))))
        assert.isTrue(Exit.isFailure(rolledBack))
        assert.strictEqual(counts.claimed, 0, "no claim inside a transaction")
        const listed = yield* jobs.list({ kinds: ["doc_summarize"] })
        assert.deepStrictEqual(listed.items.map((job) => job.job_id), [later.job_id], "the rolled-back job is gone")
        yield* realSleep(300)
        assert.strictEqual(yield* Queue.size(starts), 0, "nothing ran")
      }).pipe(Effect.scoped), 60_000)

    it.live(`issue 16 eager dispatch ${backend.name}: a pool closed while the eager write is in flight hands the job back to the queue — never left running (forced)`, () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("eager dispatch close")
        const base = yield* database.store()
        const committed = yield* Deferred.make<void>()
        const proceed = yield* Deferred.make<void>()
        const { counts, store, untilLooks } = countingEager(base, Effect.zipRight(Deferred.succeed(committed, undefined), Deferred.await(proceed)))
        const jobs = yield* jobsOver(database, store)
        const starts = yield* Queue.unbounded<JobId>()
        const poolScope = yield* Scope.make()
        yield* parkedPool(jobs, starts, untilLooks).pipe(Scope.extend(poolScope))
        const submitting = yield* Effect.fork(jobs.submit(summarize()))
        // The write has committed the claim; the pool closes before it is handed over.
        yield* Deferred.await(committed)
        const closing = yield* Effect.fork(Scope.close(poolScope, Exit.void))
        yield* realSleep(100)
        yield* Deferred.succeed(proceed, undefined)
        const job = yield* submitting
        yield* closing
        assert.deepStrictEqual(counts, { writes: 1, claimed: 1 })
        const after = yield* jobs.get(job.job_id)
        assert.strictEqual(after.state, "queued", "back in the queue for another worker")
        assert.strictEqual(yield* Queue.size(starts), 0, "its program never ran")
        const history = yield* jobs.history(job.job_id)
        const moves = history.events.flatMap((event) =>
          event.type === "system" && "to_state" in event.body ? [`${event.body["from_state"] ?? "∅"}→${event.body["to_state"]}`] : []
        )
        assert.deepStrictEqual(moves, ["∅→queued", "queued→running", "running→queued"])
        assert.strictEqual(history.runs.length, 1)
        assert.notStrictEqual(history.runs[0]!.run.status, "running", "its run ended")
      }).pipe(Effect.scoped), 60_000)

    it.live(`issue 16 eager dispatch ${backend.name}: a claim handed over to the pool and not yet taken by a loop when the pool closes goes back to the queue with its "released" event — never left running (forced)`, () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("eager dispatch untaken")
        const base = yield* database.store()
        const committed = yield* Deferred.make<void>()
        const proceed = yield* Deferred.make<void>()
        // Only the first eager write (job A's) is held after its commit.
        let held = false
        const hold = Effect.suspend(() => {
          if (held) return Effect.void
          held = true
          return Effect.zipRight(Deferred.succeed(committed, undefined), Deferred.await(proceed))
        })
        const { counts, store, untilLooks } = countingEager(base, hold)
        const jobs = yield* jobsOver(database, store)
        const starts = yield* Queue.unbounded<JobId>()
        const never = yield* Deferred.make<void>()
        const poolScope = yield* Scope.make()
        // One loop; the second job it starts never ends (until the drain time interrupts it).
        yield* jobs.worker({
          concurrency: 1,
          pollInterval: "100 millis",
          drainTimeout: "100 millis",
          handlers: { doc_summarize: (ctx) => Effect.zipRight(Queue.offer(starts, ctx.job.job_id), Deferred.await(never)) }
        }).pipe(Scope.extend(poolScope))
        yield* untilLooks(1)
        // A's write claims it for the parked loop, and is held before the claim is handed over.
        const submittingA = yield* Effect.fork(jobs.submit(summarize()))
        yield* Deferred.await(committed)
        // B is queued (the loop is A's); the loop's poll claims B and its program holds the loop.
        const b = yield* jobs.submit(summarize())
        assert.strictEqual(yield* takeWithin(starts, "B's program"), b.job_id)
        // A's claim goes into the pool's inbox: no loop is free to take it.
        yield* Deferred.succeed(proceed, undefined)
        const a = yield* submittingA
        assert.strictEqual((yield* jobs.get(a.job_id)).state, "running", "handed over, not yet taken")
        yield* Scope.close(poolScope, Exit.void)
        assert.deepStrictEqual(counts, { writes: 1, claimed: 1 })
        assert.strictEqual(yield* Queue.size(starts), 0, "A's program never ran")
        const after = yield* jobs.get(a.job_id)
        assert.strictEqual(after.state, "queued", "back in the queue for another worker")
        assert.include(after.status_reason, "released: the worker shut down")
        const history = yield* jobs.history(a.job_id)
        const moves = history.events.flatMap((event) =>
          event.type === "system" && "to_state" in event.body ? [`${event.body["from_state"] ?? "∅"}→${event.body["to_state"]}`] : []
        )
        assert.deepStrictEqual(moves, ["∅→queued", "queued→running", "running→queued"])
        const released = history.events.find((event) => event.type === "system" && event.body["to_state"] === "queued" && event.body["from_state"] === "running")
        assert.include(String(released?.body["reason"]), "released: the worker shut down")
        assert.strictEqual(history.runs.length, 1)
        assert.notStrictEqual(history.runs[0]!.run.status, "running", "its run ended")
        // B, interrupted at the drain time, is released too.
        assert.strictEqual((yield* jobs.get(b.job_id)).state, "queued")
      }).pipe(Effect.scoped), 60_000)

    it.live(`issue 16 eager dispatch ${backend.name}: a failed eager write (a taken job id) gives its loop back — the next submit runs at once; eagerDispatch: false writes none`, () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("eager dispatch seat back")
        const base = yield* database.store()
        const { attempts, counts, store, untilLooks } = countingEager(base)
        const jobs = yield* jobsOver(database, store)
        // Stored through the port with no events: a submit's check for a pruned job's trail (reusedId.ts)
        // finds none, so its id is refused by the eager write itself, as a race for a new id would be.
        const taken = yield* base.createJob(newJob({ job_kind: "doc_edit", capability_profile_id: "Coder" }))
        const starts = yield* Queue.unbounded<JobId>()
        yield* parkedPool(jobs, starts, untilLooks)
        const refused = yield* Effect.flip(jobs.submit(summarize({ job_id: taken.job_id })))
        assert.strictEqual(refused._tag, "AlreadyExists")
        assert.strictEqual(attempts.count, 1, "the submit took the parked loop's seat for an eager write")
        assert.deepStrictEqual(counts, { writes: 0, claimed: 0 }, "the failed write wrote nothing")
        // The one loop was kept for that write; had it not been given back, it would sleep to its 30 s poll.
        // Given back, it parks again and offers its seat to the next submit.
        yield* realSleep(100)
        const next = yield* jobs.submit(summarize())
        assert.strictEqual(yield* takeWithin(starts, "the next job's start"), next.job_id)
        assert.deepStrictEqual(counts, { writes: 1, claimed: 1 }, "the next job was claimed in its submit's write")
        // A pool that turned eager dispatch off: its jobs are queued and claimed after the wake-up, as before.
        const offStarts = yield* Queue.unbounded<JobId>()
        yield* jobs.worker({
          concurrency: 1,
          pollInterval: "30 seconds",
          eagerDispatch: false,
          handlers: { doc_rewrite: (ctx) => Queue.offer(offStarts, ctx.job.job_id) }
        })
        yield* realSleep(300)
        const plain = yield* jobs.submit(summarize({ job_kind: "doc_rewrite" }))
        assert.strictEqual(yield* takeWithin(offStarts, "the plain job's start"), plain.job_id)
        assert.deepStrictEqual(counts, { writes: 1, claimed: 1 }, "no eager write for a pool that turned it off")
      }).pipe(Effect.scoped), 60_000)

    it.live(`issue 16 eager dispatch ${backend.name}: 40 concurrent submits racing for 4 parked loops — every job runs exactly once, on one run`, () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("eager dispatch race")
        const base = yield* database.store()
        const { counts, store, untilLooks } = countingEager(base)
        const jobs = yield* jobsOver(database, store)
        const ran = yield* Ref.make<ReadonlyArray<JobId>>([])
        yield* jobs.worker({
          concurrency: 4,
          pollInterval: "30 seconds",
          handlers: { doc_summarize: (ctx) => Effect.zipRight(realSleep(5), Ref.update(ran, (all) => [...all, ctx.job.job_id])) }
        })
        yield* untilLooks(4)
        const submitted = yield* Effect.forEach(Array.from({ length: 40 }, () => summarize()), (request) => jobs.submit(request), { concurrency: 40 })
        const done = yield* Effect.forEach(submitted, (job) => jobs.await(job.job_id, { timeout: "60 seconds" }), { concurrency: 10 })
        assert.isTrue(done.every((job) => job.state === "completed"), "every job completed")
        const all = yield* Ref.get(ran)
        assert.strictEqual(all.length, 40, "each job ran once")
        assert.strictEqual(new Set(all).size, 40)
        assert.isAbove(counts.claimed, 0, "some were claimed in their submit's write")
        assert.isAtMost(counts.writes, 40)
        for (const job of submitted) assert.strictEqual((yield* jobs.history(job.job_id)).runs.length, 1, "one run per job")
      }).pipe(Effect.scoped), 120_000)
  })
}
