/**
 * A worker pool's failed claim looking up whether it committed
 * (claimAnswerLost.ts), during an outage (found by a regression probe of the
 * lost-claim fix): an idle pool's shutdown waited for its loops' looks — 8,
 * about 7 s, past the drain time with a database that accepts and never
 * answers — while no program ran; every outage's idle pool warned, per loop
 * and per claim, that "the job it may have claimed (its records' first event
 * id …)" stayed running, naming nothing. Now a look gives up as its pool
 * closes, the warning says the claim most likely took nothing and comes
 * once a pool an outage, and a claim's statement sent on a session the
 * server had already ended (a `pg_ctl stop`, a `pg_terminate_backend`, heard
 * while the connection was idle) is not looked for: it never ran, and the
 * transaction around it was rolled back.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { LOST_CLAIM_LOOKS } from "../../src/internal/jobs/claimAnswerLost.js"
import * as Jobs from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import * as WakeUp from "../../src/WakeUp.js"
import { capturingLog } from "../support/capturedLog.js"
import { startCuttingProxy } from "../support/cuttingProxy.js"
import { connectPg, pgAdminUrl } from "../support/pg-database.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"
import { postgresShared, realSleep, sharedBackends } from "./shared-database.js"

type Store = JobStore["Type"]

/**
 * `store` with an outage switch: while `down`, claims fail with a lost
 * connection's `StorageError` (they may have committed: looked up) and the
 * looks fail the same. `looks` counts the looks; `looksAfterClose` those made
 * once `closing` is set.
 */
const withOutage = (store: Store) => {
  const state = { down: false, closing: false, looks: 0, looksAfterClose: 0 }
  const lost = (operation: string) => new StorageError({ operation, cause: new Error("simulated: Connection terminated unexpectedly") })
  const counted = <A, E>(operation: string, call: () => Effect.Effect<A, E>) =>
    Effect.suspend((): Effect.Effect<A, E | StorageError> => {
      state.looks++
      if (state.closing) state.looksAfterClose++
      return state.down ? Effect.fail(lost(operation)) : call()
    })
  const wrapped: Store = {
    ...store,
    listEvents: (filter) => counted("JobStore.listEvents", () => store.listEvents(filter)),
    getRun: (id) => counted("JobStore.getRun", () => store.getRun(id)),
    claimAdmitted: (options) =>
      Effect.suspend(() => state.down ? Effect.fail(lost("JobStore.claimAdmitted")) : store.claimAdmitted!(options)),
    transaction: (effect) => Effect.suspend(() => state.down ? Effect.fail(lost("JobStore.transaction")) : store.transaction(effect))
  }
  return { state, store: wrapped }
}

/** Jobs over `store`, its one-statement claim's memo primed (a job claimed and run): an idle claim then names its records' event ids. */
const primedJobs = (store: Store) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(services(Layer.succeed(JobStore, store), Recovery.layerNoStartupRecovery, WakeUp.layerPollOnly))
    const jobs = Context.get(context, Jobs.Jobs)
    const first = yield* jobs.submit(summarize())
    const claim = yield* jobs.claimNext()
    assert.strictEqual(claim?.job.job_id, first.job_id)
    yield* jobs.run(first.job_id, () => Effect.succeed({ ok: true }))
    return jobs
  })

/** Real time until `done` holds, checked every 20 ms, at most `ms` (then fails naming `what`). */
const until = (done: () => boolean, what: string, ms = 30_000): Effect.Effect<void> =>
  Effect.suspend(() => {
    const deadline = Date.now() + ms
    const check: Effect.Effect<void> = Effect.suspend(() =>
      done() ? Effect.void : Date.now() > deadline ? Effect.die(new Error(`timed out waiting for ${what}`)) : Effect.zipRight(realSleep(20), check)
    )
    return check
  })

for (const backend of sharedBackends) {
  describe(`pool claim looks on ${backend.name}`, () => {
    it.live(`claim look pool close ${backend.name}: an idle pool closed while its failed claims look up whether they committed — no look after the close began, one warning saying the pool closed`, () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("claim look pool close")
        const outage = withOutage(yield* database.store())
        const jobs = yield* primedJobs(outage.store)
        const log = capturingLog(["WARN"])
        const scope = yield* Scope.make()
        yield* Scope.extend(log.provide(jobs.worker({ concurrency: 2, pollInterval: "50 millis", eagerDispatch: false, handlers: { doc_summarize: () => Effect.void } })), scope)
        outage.state.looks = 0
        outage.state.down = true
        // Both loops' claims failed and are looking (each looks again after a wait).
        yield* until(() => outage.state.looks >= 4, "the pool's failed claims to look")
        outage.state.closing = true
        yield* Scope.close(scope, Exit.void)
        assert.strictEqual(outage.state.looksAfterClose, 0, "no look after the pool's close began")
        const closed = log.lines.filter((line) => line.includes("worker pool closed while it looked up"))
        assert.isAtLeast(closed.length, 1, `the pool said it gave up its look (got ${JSON.stringify(log.lines)})`)
        assert.isAtMost(closed.length, 1, `once for the pool (got ${JSON.stringify(log.lines)})`)
      }).pipe(Effect.scoped), 60_000)

    it.live(`claim look pool close ${backend.name}: an idle pool's claims failing through an outage — one warning, saying the claim most likely claimed nothing, not one a claim naming an event id`, () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("claim look outage warning")
        const outage = withOutage(yield* database.store())
        const jobs = yield* primedJobs(outage.store)
        const log = capturingLog(["WARN"])
        yield* log.provide(jobs.worker({ concurrency: 1, pollInterval: "50 millis", eagerDispatch: false, handlers: { doc_summarize: () => Effect.void } }))
        outage.state.looks = 0
        outage.state.down = true
        // Two claims' looks ran out: a third claim has begun looking.
        yield* until(() => outage.state.looks > 2 * LOST_CLAIM_LOOKS, "two claims' looks to run out")
        const said = log.lines.filter((line) => line.startsWith("Jobs.claimNext failed ("))
        assert.lengthOf(said, 1, `one warning for the outage (got ${JSON.stringify(log.lines)})`)
        assert.include(said[0]!, "most likely it claimed nothing")
        assert.include(said[0]!, "recovery stalls that run")
        assert.notInclude(said[0]!, "event id", "names no id that names nothing")
        outage.state.down = false
      }).pipe(Effect.scoped), 60_000)
  })
}

describe("pool claim looks on PostgreSQL, a database that accepts and never answers", () => {
  it.live("claim look pool close PostgreSQL: an idle pool closed while its claim, cut off by a black hole, looks up whether it committed — no look after the close began", () =>
    Effect.gen(function*() {
      const database = yield* postgresShared.fresh("claim look black hole")
      const proxy = yield* Effect.acquireRelease(Effect.promise(() => startCuttingProxy(database.url, "never armed")), (proxy) => Effect.promise(proxy.close))
      // A claim unanswered past its wait ends in a StorageError that may have committed: it is looked up.
      const store = yield* Effect.map(
        Layer.build(PgStore.layer({ url: proxy.url, connectTimeout: "1 second", statementTimeout: "1 second" })),
        (context) => Context.get(context, JobStore)
      )
      const outage = withOutage(store)
      const jobs = yield* primedJobs(outage.store)
      const scope = yield* Scope.make()
      yield* Scope.extend(jobs.worker({ concurrency: 2, pollInterval: "50 millis", eagerDispatch: false, handlers: { doc_summarize: () => Effect.void } }), scope)
      outage.state.looks = 0
      proxy.state.blackHole = true
      yield* until(() => outage.state.looks >= 1, "a failed claim to look")
      outage.state.closing = true
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(outage.state.looksAfterClose, 0, "no look after the pool's close began")
    }).pipe(Effect.scoped), 60_000)
})

describe("pool claim looks on PostgreSQL, a session the server ended", () => {
  it.live("claim look session ended PostgreSQL: a claim whose transaction goes on on a session the server had ended (terminated while idle in it) — StorageError, no look (nothing of it ran), the job queued and claimable", () =>
    Effect.gen(function*() {
      const database = yield* postgresShared.fresh("claim look session ended")
      const admin = yield* Effect.acquireRelease(Effect.promise(() => connectPg(pgAdminUrl())), (client) => Effect.promise(() => client.end().catch(() => {})))
      const name = decodeURIComponent(new URL(database.url).pathname.slice(1))
      const outage = withOutage(yield* database.store())
      // The transaction claim (no one-statement claim): its run's id is known before its commit.
      const held = { armed: false, statement: undefined as (() => Effect.Effect<unknown, StorageError>) | undefined }
      const { claimAdmitted: _, ...general } = outage.store
      const store: Store = {
        ...general,
        transaction: (effect) =>
          outage.store.transaction(Effect.tap(effect, () => {
            if (!held.armed) return Effect.void
            held.armed = false
            // The claim written, its transaction left open: its session is ended meanwhile, then the transaction goes on.
            return Effect.zipRight(realSleep(1_500), held.statement!())
          }))
      }
      const context = yield* Layer.build(services(Layer.succeed(JobStore, store), Recovery.layerNoStartupRecovery, WakeUp.layerPollOnly))
      const jobs = Context.get(context, Jobs.Jobs)
      const job = yield* jobs.submit(summarize())
      held.statement = () => Effect.catchAll(outage.store.getJob(job.job_id), (e) => e._tag === "StorageError" ? Effect.fail(e) : Effect.die(e))
      held.armed = true
      outage.state.looks = 0
      const claiming = yield* Effect.fork(Effect.flip(jobs.claimNext()))
      const pid = yield* Effect.promise(async () => {
        for (let attempt = 0; attempt < 200; attempt++) {
          const rows = (await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND state = 'idle in transaction'", [name])).rows
          if (rows.length === 1) return rows[0]!.pid
          await new Promise((resolve) => setTimeout(resolve, 10))
        }
        throw new Error("no backend of ours became idle in transaction")
      })
      const terminated = yield* Effect.promise(() => admin.query<{ ok: boolean }>("SELECT pg_terminate_backend($1) AS ok", [pid]))
      assert.isTrue(terminated.rows[0]?.ok, "the claim's backend was terminated")
      const error = yield* Fiber.join(claiming)
      assert.strictEqual(error._tag, "StorageError")
      assert.include(error.message, "the server had ended the session", "sent after the session ended")
      assert.strictEqual(outage.state.looks, 0, "not looked up: nothing of it ran")
      assert.strictEqual((yield* jobs.get(job.job_id)).state, "queued", "rolled back")
      assert.strictEqual((yield* jobs.claimNext())?.job.job_id, job.job_id, "claimable again")
    }).pipe(Effect.scoped), 60_000)
})
