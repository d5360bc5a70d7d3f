/**
 * A run is run once (migration 0018, `JobStore.takeRun`), on SQLite (a file)
 * and PostgreSQL, each racer with a store of its own (its own connections,
 * as another process): `Jobs.run` takes the job's run before its program
 * starts, so two `run` calls for one job, or a `run` of a job a pool adopted
 * from an offer (`resume(..., { handTo: "workers" })`), start the program
 * once; the others fail with `RunTaken` and write nothing. A run `Jobs.run`
 * took is never adopted by a pool, and a heartbeat marks a run taken. A
 * pool's own claim takes its run — by each of the three ways a pool claims —
 * so a `Jobs.run` of a job a pool is running fails `RunTaken` even before its
 * first heartbeat; a caller's `Jobs.claimNext` leaves the run for its `run`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Ref from "effect/Ref"
import type { JobId } from "../../src/domain/Ids.js"
import type * as Jobs from "../../src/Jobs.js"
import type { JobStore } from "../../src/store/JobStore.js"
import { summarize } from "../jobs/jobs.suite.js"
import { rawStatement } from "../jobs/rawStatement.js"
import { realSleep, sharedBackends } from "../jobs/shared-database.js"
import { engineOn } from "./engine.js"

/** A stalled job (its worker died): claimed, never run, stalled by recovery, ready for an operator's resume. */
const stalledJob = (jobs: Jobs.Jobs["Type"], store: JobStore["Type"]) =>
  Effect.gen(function*() {
    const job = yield* jobs.submit(summarize())
    assert.strictEqual((yield* jobs.claimNext({ kinds: ["doc_summarize"] }))?.job.job_id, job.job_id)
    const ahead = DateTime.add(yield* DateTime.now, { hours: 1 })
    yield* store.stallStaleRuns({ heartbeatBefore: ahead, threshold: Duration.seconds(30), limit: 100 })
    return job.job_id
  })

/**
 * The three ways a pool's claim is written: eager dispatch (the submit's own
 * write claims for the parked pool), the one-statement claim of an admitted
 * subject, and the general claim (a store without the other two). `claimedBy`
 * is the store method that must have claimed the job.
 */
const poolClaims = [
  { way: "eager dispatch (createClaimed)", eager: true, claimedBy: "createClaimed", strip: [] },
  { way: "the one-statement claim (claimAdmitted)", eager: false, claimedBy: "claimAdmitted", strip: ["createClaimed"] },
  { way: "the general claim (claimNext)", eager: false, claimedBy: "claimNext", strip: ["createClaimed", "claimAdmitted"] }
] as const

/**
 * Whether a claim method's outcome claimed a job: `claimNext`'s claim, or the
 * `claim` of `claimAdmitted` (when `Claimed`) and `createClaimed`.
 */
const claimedOne = (outcome: unknown): boolean => {
  if (outcome === null || typeof outcome !== "object") return false
  return "claim" in outcome ? outcome.claim != null : "run" in outcome
}

/**
 * The store without `strip`'s optional methods, naming each method whose call
 * claimed a job; `untilLook` waits until a claim found nothing (a pool's
 * look: its loop parks right after one) and a moment for the loop to park.
 */
const watchClaims = (strip: ReadonlyArray<string>) => {
  const claimedBy: Array<string> = []
  let looks = 0
  const wrap = (store: JobStore["Type"]): JobStore["Type"] => {
    const watched: Record<string, unknown> = { ...store }
    for (const method of strip) delete watched[method]
    for (const method of ["claimNext", "claimAdmitted", "createClaimed"]) {
      const original = watched[method] as ((...args: Array<unknown>) => Effect.Effect<unknown, unknown>) | undefined
      if (original === undefined) continue
      watched[method] = (...args: Array<unknown>) =>
        Effect.tap(original(...args), (outcome) =>
          Effect.sync(() => {
            if (claimedOne(outcome)) claimedBy.push(method)
            else if (outcome === null) looks++
          }))
    }
    return watched as unknown as JobStore["Type"]
  }
  const untilLook: Effect.Effect<void> = Effect.suspend(() =>
    looks >= 1 ? realSleep(20) : Effect.zipRight(realSleep(5), untilLook)
  )
  return { wrap, claimedBy, untilLook }
}

/** The job's lifecycle events out of `running`: one per settle that happened. */
const settles = (jobs: Jobs.Jobs["Type"], jobId: JobId) =>
  Effect.map(jobs.history(jobId), (history) =>
    history.events.filter((event) => event.type === "system" && event.body["from_state"] === "running"))

for (const backend of sharedBackends) {
  describe(`a run is run once, on ${backend.name}`, () => {
    it.live("R8 eight processes call Jobs.run for one claimed job at once: the program starts once, the seven others fail RunTaken and write nothing", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("run once racers")
        const owner = yield* engineOn(database)
        const job = yield* owner.jobs.submit(summarize())
        const claim = yield* owner.jobs.claimNext()
        assert.strictEqual(claim?.job.job_id, job.job_id)
        const racers = yield* Effect.forEach(Array.from({ length: 8 }), () => engineOn(database))
        const starts = yield* Ref.make(0)
        const release = yield* Deferred.make<void>()
        // The winner's program holds until every other racer has answered: without the take, all eight would start.
        const outcomes = yield* Effect.forEach(
          racers,
          (racer) =>
            Effect.either(racer.jobs.run(job.job_id, () =>
              Effect.zipRight(Ref.update(starts, (n) => n + 1), Effect.as(Deferred.await(release), { ran: true })))),
          { concurrency: "unbounded" }
        ).pipe(Effect.fork)
        const startedWhileHeld = yield* Effect.gen(function*() {
          for (;;) {
            const runs = yield* rawStatement(database, backend, "SELECT taken FROM workflow_runs WHERE id = $1", [claim!.run.id])
            if (Number(runs[0]?.["taken"]) === 1) return
            yield* Effect.sleep("10 millis")
          }
        }).pipe(Effect.zipRight(Effect.sleep("300 millis")), Effect.zipRight(Ref.get(starts)))
        assert.strictEqual(startedWhileHeld, 1, "one program started")
        yield* Deferred.succeed(release, undefined)
        const all = yield* Effect.flatMap(outcomes.await, (exit) => exit)
        assert.strictEqual(yield* Ref.get(starts), 1, "one program ran in all")
        const won = all.filter(Either.isRight)
        const lost = all.filter(Either.isLeft).map((either) => either.left)
        assert.lengthOf(won, 1)
        assert.lengthOf(lost, 7)
        for (const error of lost) {
          assert.strictEqual(error._tag, "RunTaken")
          assert.deepInclude(error, { job_id: job.job_id, workflow_run_id: claim!.run.id })
        }
        assert.deepInclude(yield* owner.jobs.get(job.job_id), { state: "completed", job_outputs: { ran: true } })
        assert.lengthOf(yield* settles(owner.jobs, job.job_id), 1, "settled once")
        assert.lengthOf(yield* owner.store.listRuns(job.job_id), 1, "under the claim's one run")
      }).pipe(Effect.scoped), 60_000)

    it.live("R6c a pool adopted the offered run of a resume (handTo workers): the caller's Jobs.run of that job fails RunTaken, and the job runs once", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("run once adopted")
        const operator = yield* engineOn(database)
        const jobId = yield* stalledJob(operator.jobs, operator.store)
        const started = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        const ran = yield* Ref.make(0)
        const worker = yield* engineOn(database)
        yield* worker.jobs.worker({
          concurrency: 1,
          pollInterval: "100 millis",
          handlers: {
            doc_summarize: () =>
              Effect.zipRight(
                Effect.zipRight(Ref.update(ran, (n) => n + 1), Deferred.succeed(started, undefined)),
                Effect.as(Deferred.await(release), { by: "pool" })
              )
          }
        })
        const claim = yield* operator.jobs.resume(jobId, { actor: "human", handTo: "workers" })
        yield* Deferred.await(started)
        const refused = yield* Effect.flip(operator.jobs.run(jobId, () => Effect.zipRight(Ref.update(ran, (n) => n + 1), Effect.succeed({ by: "caller" }))))
        assert.strictEqual(refused._tag, "RunTaken")
        assert.deepInclude(refused, { job_id: jobId, workflow_run_id: claim.run.id })
        assert.strictEqual((yield* operator.jobs.get(jobId)).state, "running", "the refusal moved nothing")
        yield* Deferred.succeed(release, undefined)
        const done = yield* operator.jobs.await(jobId, { timeout: "20 seconds" })
        assert.deepInclude(done, { state: "completed", job_outputs: { by: "pool" }, workflow_run_id: claim.run.id })
        assert.strictEqual(yield* Ref.get(ran), 1, "the program ran once")
      }).pipe(Effect.scoped), 60_000)

    it.live("R6c a run Jobs.run took first is never adopted: its offer is dropped by the next look, and the caller's program is the only one", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("run once taken first")
        const operator = yield* engineOn(database)
        const jobId = yield* stalledJob(operator.jobs, operator.store)
        const claim = yield* operator.jobs.resume(jobId, { actor: "human", handTo: "workers" })
        const started = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        const running = yield* Effect.fork(operator.jobs.run(jobId, () =>
          Effect.zipRight(Deferred.succeed(started, undefined), Effect.as(Deferred.await(release), { by: "caller" }))))
        yield* Deferred.await(started)
        const pool = yield* engineOn(database)
        assert.isNull(yield* pool.store.adoptOfferedRun!({}), "a pool's look finds no offer it may take")
        assert.lengthOf(yield* rawStatement(database, backend, "SELECT run_id FROM run_offers WHERE run_id = $1", [claim.run.id]), 0, "the offer is gone")
        yield* Deferred.succeed(release, undefined)
        assert.deepStrictEqual(yield* running.await.pipe(Effect.flatMap((exit) => exit)), { by: "caller" })
        assert.deepInclude(yield* operator.jobs.get(jobId), { state: "completed", job_outputs: { by: "caller" } })
      }).pipe(Effect.scoped), 60_000)

    it.live("R8 a heartbeat marks its run taken: Jobs.run of a job whose run has beaten (a pool's claim, after its first beat) fails RunTaken", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("run once beaten")
        const pool = yield* engineOn(database)
        const job = yield* pool.jobs.submit(summarize())
        const claim = yield* pool.jobs.claimNext()
        yield* pool.store.heartbeat(claim!.run.id)
        const caller = yield* engineOn(database)
        const refused = yield* Effect.flip(caller.jobs.run(job.job_id, () => Effect.die("must not start")))
        assert.strictEqual(refused._tag, "RunTaken")
        assert.strictEqual((yield* caller.jobs.get(job.job_id)).state, "running")
        // The store says so too, and its take writes nothing.
        const before = yield* pool.store.getRun(claim!.run.id)
        const again = yield* Effect.flip(pool.store.takeRun(claim!.run.id))
        assert.strictEqual(again._tag, "RunTaken")
        assert.deepStrictEqual(yield* pool.store.getRun(claim!.run.id), before)
      }).pipe(Effect.scoped), 60_000)

    it.live("R8 a heartbeat by a version before 0018 (fe8214d's statement, which sets no taken) marks its run taken: Jobs.run of that job fails RunTaken and the program is not started", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("run once old beat")
        const engine = yield* engineOn(database)
        const job = yield* engine.jobs.submit(summarize())
        // A caller's claim leaves its run untaken, as an old worker's claim did.
        const claim = yield* engine.jobs.claimNext()
        const at = DateTime.formatIso(DateTime.add(yield* DateTime.now, { millis: 5 }))
        // fe8214d's heartbeat, word for word (its synchronous_commit setting aside).
        yield* rawStatement(
          database,
          backend,
          backend.name === "PostgreSQL"
            ? `UPDATE workflow_runs r SET last_heartbeat = $1::timestamptz, updated_at = $2::timestamptz
               WHERE r.id = $3 AND (r.status = 'running') IS TRUE AND EXISTS (
                 SELECT 1 FROM ai_jobs j WHERE j.id = r.job_id AND j.workflow_run_id = r.id AND (j.status = 'running') IS TRUE)
               RETURNING r.id`
            : `UPDATE workflow_runs SET last_heartbeat = $1, updated_at = $2
               WHERE id = $3 AND workflow_runs.status = 'running' AND EXISTS (
                 SELECT 1 FROM ai_jobs WHERE ai_jobs.id = workflow_runs.job_id
                   AND ai_jobs.workflow_run_id = workflow_runs.id AND ai_jobs.status = 'running')`,
          [at, at, claim!.run.id]
        )
        assert.strictEqual(DateTime.formatIso((yield* engine.store.getRun(claim!.run.id)).last_heartbeat), at, "the old beat was written")
        const started = yield* Ref.make(0)
        const refused = yield* Effect.flip(engine.jobs.run(job.job_id, () => Effect.as(Ref.update(started, (n) => n + 1), { ran: true })))
        assert.strictEqual(refused._tag, "RunTaken")
        assert.strictEqual(yield* Ref.get(started), 0, "the program was not started")
        assert.strictEqual((yield* engine.jobs.get(job.job_id)).state, "running")
      }).pipe(Effect.scoped), 60_000)

    for (const { claimedBy, eager, strip, way } of poolClaims) {
      it.live(`R8 a pool's claim takes its run, by ${way}: Jobs.run of the job it is running, before any heartbeat, fails RunTaken and the program runs once`, () =>
        Effect.gen(function*() {
          const database = yield* backend.fresh(`run once pool claim ${claimedBy}`)
          const watch = watchClaims(strip)
          const pool = yield* engineOn(database, { wrapStore: watch.wrap })
          const started = yield* Deferred.make<void>()
          const release = yield* Deferred.make<void>()
          const ran = yield* Ref.make(0)
          yield* pool.jobs.worker({
            concurrency: 1,
            // Eager dispatch needs the loop parked at the submit: no poll wakes it in between.
            pollInterval: eager ? "1 hour" : "100 millis",
            eagerDispatch: eager,
            // No beat before the test ends: only the claim can have taken the run.
            run: { heartbeatInterval: "1 hour" },
            handlers: {
              doc_summarize: () =>
                Effect.zipRight(
                  Effect.zipRight(Ref.update(ran, (n) => n + 1), Deferred.succeed(started, undefined)),
                  Effect.as(Deferred.await(release), { by: "pool" })
                )
            }
          })
          // The pool looks, finds nothing and parks: a submit now is what eager dispatch claims.
          yield* watch.untilLook
          const job = yield* pool.jobs.submit(summarize())
          yield* Deferred.await(started)
          assert.deepStrictEqual(watch.claimedBy, [claimedBy], "claimed the way under test")
          const runId = (yield* pool.jobs.get(job.job_id)).workflow_run_id!
          const caller = yield* engineOn(database)
          const refused = yield* Effect.flip(caller.jobs.run(job.job_id, () => Effect.zipRight(Ref.update(ran, (n) => n + 1), Effect.succeed({ by: "caller" }))))
          assert.strictEqual(refused._tag, "RunTaken")
          assert.deepInclude(refused, { job_id: job.job_id, workflow_run_id: runId })
          // Taken by the claim itself: the run has not beaten since.
          const [row] = yield* rawStatement(database, backend, "SELECT taken, last_heartbeat, created_at FROM workflow_runs WHERE id = $1", [runId])
          assert.strictEqual(Number(row?.["taken"]), 1, "taken by the claim")
          assert.strictEqual(String(row?.["last_heartbeat"]), String(row?.["created_at"]), "no heartbeat since the claim")
          yield* Deferred.succeed(release, undefined)
          const done = yield* caller.jobs.await(job.job_id, { timeout: "20 seconds" })
          assert.deepInclude(done, { state: "completed", job_outputs: { by: "pool" }, workflow_run_id: runId })
          assert.strictEqual(yield* Ref.get(ran), 1, "the program ran once")
          assert.lengthOf(yield* settles(caller.jobs, job.job_id), 1, "settled once")
        }).pipe(Effect.scoped), 60_000)
    }

    it.live("R8 a claim without take (Jobs.claimNext's, for its caller's run) leaves the run untaken; with take (a pool's) it is taken: each store method", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("run once store take")
        const engine = yield* engineOn(database)
        const { store } = engine
        const takenOf = (runId: string) =>
          Effect.map(rawStatement(database, backend, "SELECT taken FROM workflow_runs WHERE id = $1", [runId]), ([row]) => Number(row?.["taken"]))
        for (const take of [undefined, false, true]) {
          yield* engine.jobs.submit(summarize())
          const claim = yield* store.claimNext(take === undefined ? {} : { take })
          assert.strictEqual(yield* takenOf(claim!.run.id), take === true ? 1 : 0, `claimNext take ${take}`)
          const taking = yield* Effect.either(store.takeRun(claim!.run.id))
          assert.strictEqual(Either.isLeft(taking) ? taking.left._tag : "taken", take === true ? "RunTaken" : "taken")
        }
        // A caller's Jobs.claimNext: its run is left for the caller's run to take.
        yield* engine.jobs.submit(summarize())
        const claimed = yield* engine.jobs.claimNext()
        assert.strictEqual(yield* takenOf(claimed!.run.id), 0)
        yield* engine.jobs.run(claimed!.job.job_id, () => Effect.void)
        assert.strictEqual((yield* engine.jobs.get(claimed!.job.job_id)).state, "completed")
        // An odd take is refused at the port, and nothing is claimed.
        yield* engine.jobs.submit(summarize())
        const odd = yield* Effect.flip(store.claimNext({ take: "yes" as never }))
        assert.strictEqual(odd._tag, "DecodeFailure")
        assert.strictEqual((yield* engine.jobs.list({ states: ["queued"] })).items.length, 1, "still queued")
      }).pipe(Effect.scoped), 60_000)

    it.live("R8 takeRun of a run that ended is RunNotActive (its status), of no run NotFound; Jobs.run of an ended job is JobNotRunning", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("run once ended")
        const engine = yield* engineOn(database)
        const job = yield* engine.jobs.submit(summarize())
        const claim = yield* engine.jobs.claimNext()
        yield* engine.jobs.cancel(job.job_id, { actor: "human", reason: "not needed" })
        const ended = yield* Effect.flip(engine.store.takeRun(claim!.run.id))
        assert.deepInclude(ended, { _tag: "RunNotActive", status: "cancelled" })
        const missing = yield* Effect.flip(engine.store.takeRun("01890a5d-ac96-774b-bcce-b302099a8057" as never))
        assert.strictEqual(missing._tag, "NotFound")
        assert.strictEqual((yield* Effect.flip(engine.jobs.run(job.job_id, () => Effect.void)))._tag, "JobNotRunning")
      }).pipe(Effect.scoped), 60_000)

    it.live("R8 migration 0018 on a database from before it: a running run beaten since its claim counts as taken, one never beaten does not", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("run once upgrade")
        const before = yield* engineOn(database)
        const beaten = yield* Effect.flatMap(before.jobs.submit(summarize()), () => before.jobs.claimNext())
        const fresh = yield* Effect.flatMap(before.jobs.submit(summarize()), () => before.jobs.claimNext())
        yield* Effect.sleep("5 millis")
        yield* before.store.heartbeat(beaten!.run.id)
        // Back to 0017: no column (nor the trigger that sets it since SQLite's 0025, PostgreSQL's 0026),
        // 0018 (and the later, replay-safe ones) not recorded.
        yield* rawStatement(database, backend, `DROP TRIGGER workflow_runs_beat_takes${backend.name === "PostgreSQL" ? " ON workflow_runs" : ""}`)
        yield* rawStatement(database, backend, "ALTER TABLE workflow_runs DROP COLUMN taken")
        yield* rawStatement(database, backend, "DELETE FROM ai_job_model_migrations WHERE migration_id >= 18")
        // A store opened now migrates.
        const after = yield* engineOn(database)
        const taken = (runId: string) =>
          Effect.map(rawStatement(database, backend, "SELECT taken FROM workflow_runs WHERE id = $1", [runId]), ([row]) => Number(row?.["taken"]))
        assert.strictEqual(yield* taken(beaten!.run.id), 1)
        assert.strictEqual(yield* taken(fresh!.run.id), 0)
        assert.strictEqual((yield* Effect.flip(after.jobs.run(beaten!.job.job_id, () => Effect.void)))._tag, "RunTaken")
        yield* after.jobs.run(fresh!.job.job_id, () => Effect.void)
        assert.strictEqual((yield* after.jobs.get(fresh!.job.job_id)).state, "completed")
      }).pipe(Effect.scoped), 60_000)
  })
}
