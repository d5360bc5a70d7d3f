/**
 * Eager dispatch's test set-up (issue 16, pickup): a store whose eager writes
 * and empty looks are counted, Jobs over it, and a one-loop pool that has
 * looked and parked — so the next submit is written for it.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type { JobId } from "../../src/domain/Ids.js"
import * as Jobs from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as WakeUp from "../../src/WakeUp.js"
import { summarize } from "../jobs/jobs.suite.js"
import { services } from "../jobs/services.js"
import { realSleep, type SharedDatabase } from "../jobs/shared-database.js"
import { newJob } from "../store/fixtures.js"
import { rawPgClient } from "../support/pg-database.js"

export type Store = JobStore["Type"]

/**
 * `store` with its eager writes counted — how many were made, how many
 * claimed, and every call, failed ones too — and its claims that found
 * nothing (a pool's looks: a loop parks right after one).
 */
export const countingEager = (store: Store, hold?: Effect.Effect<void>) => {
  const counts = { writes: 0, claimed: 0 }
  const attempts = { count: 0 }
  let looks = 0
  const looked = <A, E, R>(claim: Effect.Effect<A, E, R>) =>
    Effect.tap(claim, (outcome) => Effect.sync(() => (outcome === null ? looks++ : undefined)))
  /**
   * Until `n` looks have found nothing, and a moment for the loops to park (a loop parks once its empty
   * look returns). 200 ms: at 20 ms a full verify at load ~8 once saw the submit come before the park
   * (written plainly, no eager write to cut); the park has no signal a test can read.
   */
  const untilLooks = (n: number): Effect.Effect<void> =>
    Effect.suspend(() => (looks >= n ? realSleep(200) : Effect.zipRight(realSleep(5), untilLooks(n))))
  const wrapped: Store = {
    ...store,
    claimNext: (options) => looked(store.claimNext(options)),
    ...(store.claimAdmitted === undefined ? {} : {
      claimAdmitted: (options: Parameters<NonNullable<Store["claimAdmitted"]>>[0]) => looked(store.claimAdmitted!(options))
    }),
    ...(store.createClaimed === undefined ? {} : {
      createClaimed: (job: Parameters<NonNullable<Store["createClaimed"]>>[0], options: Parameters<NonNullable<Store["createClaimed"]>>[1]) =>
        Effect.tap(Effect.zipRight(Effect.sync(() => attempts.count++), store.createClaimed!(job, options)), (outcome) =>
          Effect.zipRight(
            Effect.sync(() => {
              counts.writes++
              if (outcome.claim !== null) counts.claimed++
            }),
            // Held after its commit, before the submit hands the claim over.
            hold ?? Effect.void
          ))
    })
  }
  return { store: wrapped, counts, attempts, untilLooks }
}

/** Jobs on `database` over `store`, with the dialect's wake-up, the listener ready. */
export const jobsOver = (database: SharedDatabase, store: Store) =>
  Effect.gen(function*() {
    const pg = database.url.startsWith("postgres")
    const wake = pg ? WakeUp.layerPg({ listenUrl: database.url, reconnectDelay: "100 millis" }) : WakeUp.layerInProcess
    const context = yield* Layer.build(services(Layer.succeed(JobStore, store), Recovery.layerNoStartupRecovery, wake))
    yield* Context.get(context, WakeUp.WakeUp).ready
    return Context.get(context, Jobs.Jobs)
  })

/** A pool of one `doc_summarize` worker (30 s poll) whose starts go to `starts`; returns once it has looked and parked. */
export const parkedPool = (jobs: Jobs.Jobs["Type"], starts: Queue.Queue<JobId>, untilLooks: (n: number) => Effect.Effect<void>) =>
  Effect.zipRight(
    jobs.worker({ concurrency: 1, pollInterval: "30 seconds", handlers: { doc_summarize: (ctx) => Queue.offer(starts, ctx.job.job_id) } }),
    // The pool looks once, finds nothing and parks.
    untilLooks(1)
  )

/**
 * A parked pool with an older job of the policy's profile queued behind its back (written through
 * `base`, which announces nothing in this process): the next eager write sees it first.
 */
export const parkedBehindOlderJob = (jobs: Jobs.Jobs["Type"], base: Store, untilLooks: (n: number) => Effect.Effect<void>) =>
  Effect.gen(function*() {
    // The profile the policy gives such a job (a probe, cancelled before any pool runs).
    const probe = yield* jobs.submit(summarize())
    yield* jobs.cancel(probe.job_id)
    const starts = yield* Queue.unbounded<JobId>()
    yield* parkedPool(jobs, starts, untilLooks)
    const older = yield* base.createJob(newJob({
      protocol_id: probe.protocol_id,
      profile_id: probe.profile_id,
      capability_profile_id: probe.capability_profile_id
    }))
    return { starts, older }
  })

export const takeWithin = <A>(queue: Queue.Queue<A>, what: string) =>
  Effect.flatMap(Queue.take(queue).pipe(Effect.timeoutOption("10 seconds")), (taken) =>
    Option.isSome(taken) ? Effect.succeed(taken.value) : Effect.dieMessage(`timed out waiting for ${what}`))

/** PostgreSQL's announcements off (migration 0007's triggers), so a row written behind the pool's back wakes no one. */
export const silenceAnnouncements = (database: SharedDatabase) =>
  database.url.startsWith("postgres")
    ? Effect.scoped(Effect.flatMap(Layer.build(rawPgClient(database.url)), (context) => {
      const sql = Context.get(context, SqlClient.SqlClient)
      return Effect.zipRight(
        sql`ALTER TABLE ai_jobs DISABLE TRIGGER ai_jobs_announce_insert`,
        sql`ALTER TABLE ai_jobs DISABLE TRIGGER ai_jobs_announce_state`
      )
    }))
    : Effect.void
