/**
 * Runs offered to worker pools, on PostgreSQL (migration 0016): a resumed
 * job's new run that no worker holds, until a pool of its kind takes it.
 * No claim, submit or lifecycle statement reads the table; but `Jobs.claimNext`
 * looks here once a second (internal/jobs/adoptOffered.ts), so its statements
 * run untraced as the claim's do (`run`, internal/execute.ts).
 */
import type * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type { Claim, JobStore } from "../JobStore.js"
import { NotFound } from "../StoreErrors.js"
import type { PgContext } from "./context.js"
import { columns, decode, instantParam } from "./rows.js"
import { storageErrors } from "./errors.js"

type Service = Context.Tag.Service<JobStore>

/** How many offers one look may find taken or stale before it answers none: each one it met is gone for good. */
const LOOKS = 8

export const makeOfferMethods = (context: PgContext) => {
  const { atomic, run, sql } = context
  const jobColumns = sql.literal(columns.job)
  const runColumns = sql.literal(columns.run)
  // The offer's run is still its job's running run, and nobody has begun running it (Jobs.run's
  // take, migration 0018): the only offer a pool may take.
  const current = sql`EXISTS (
    SELECT 1 FROM ai_jobs j JOIN workflow_runs r ON r.id = j.workflow_run_id
    WHERE j.id = o.job_id AND j.workflow_run_id = o.run_id AND j.status = 'running' AND r.status = 'running'
      AND NOT r.taken)`

  const offerRun: NonNullable<Service["offerRun"]> = (runId) =>
    Effect.gen(function*() {
      const at = instantParam(yield* DateTime.now)
      // A second offer of the run keeps the first (and its place in line).
      const rows = yield* sql`
        INSERT INTO run_offers (run_id, job_id, offered_at)
        SELECT id, job_id, ${at}::timestamptz FROM workflow_runs WHERE id = ${runId}
        ON CONFLICT (run_id) DO UPDATE SET offered_at = run_offers.offered_at
        RETURNING run_id`
      if (rows.length === 0) return yield* new NotFound({ entity: "workflow_run", id: runId })
    }).pipe(storageErrors("JobStore.offerRun"))

  /** One look: the oldest current offer no other look holds, taken — or why there is none. */
  const takeOne = (kinds: ReadonlyArray<string> | undefined, markTaken: boolean) =>
    Effect.gen(function*() {
      // Offers no pool will ever take go first; one another look holds is left to it (no waiting).
      yield* run(sql`
        DELETE FROM run_offers WHERE run_id IN (
          SELECT o.run_id FROM run_offers o WHERE NOT ${current} FOR UPDATE SKIP LOCKED)`)
      // The offer's row lock decides who takes it: a look that finds it locked skips it, and
      // one that locks it after its taker committed finds it gone (READ COMMITTED re-reads it).
      const [taken] = yield* run(sql<{ readonly run_id: string; readonly job_id: string }>`
        DELETE FROM run_offers WHERE run_id = (
          SELECT o.run_id FROM run_offers o JOIN ai_jobs k ON k.id = o.job_id
          WHERE ${current}${kinds === undefined ? sql`` : sql` AND k.job_kind IN ${sql.in(kinds)}`}
          ORDER BY o.offered_at, o.run_id
          LIMIT 1
          FOR UPDATE OF o SKIP LOCKED)
        RETURNING run_id, job_id`)
      if (taken === undefined) return "none" as const
      // Then the job and the run, in the lock order (JobStore.ts), each still as the offer found it:
      // an operator's move that committed in between makes the offer stale, and it is dropped.
      const [job] = yield* run(sql`
        SELECT ${jobColumns} FROM ai_jobs
        WHERE id = ${taken.job_id} AND workflow_run_id = ${taken.run_id} AND status = 'running'
        FOR NO KEY UPDATE`)
      if (job === undefined) return "stale" as const
      const at = instantParam(yield* DateTime.now)
      const [runRow] = yield* run(sql`
        UPDATE workflow_runs SET last_heartbeat = ${at}::timestamptz, updated_at = GREATEST(created_at, ${at}::timestamptz), taken = true
        WHERE id = ${taken.run_id} AND status = 'running' AND NOT taken
        RETURNING ${runColumns}`)
      if (runRow === undefined) return "stale" as const
      // A beat leaving the run untaken would be taken by 0026's trigger (an old worker's beat):
      // for a caller's claim it is cleared after, its heartbeat unchanged.
      if (!markTaken) yield* run(sql`UPDATE workflow_runs SET taken = false WHERE id = ${taken.run_id}`)
      return { job: yield* decode.aiJob(job), run: yield* decode.run(runRow) } satisfies Claim
    })

  const adoptOfferedRun: NonNullable<Service["adoptOfferedRun"]> = (options = {}) =>
    Effect.gen(function*() {
      if (options.kinds !== undefined && options.kinds.length === 0) return null
      // Most looks find no offer at all: one read, no transaction.
      const [any] = yield* run(sql<{ readonly offered: boolean }>`SELECT EXISTS (SELECT 1 FROM run_offers) AS offered`)
      if (any?.offered !== true) return null
      for (let look = 0; look < LOOKS; look++) {
        // A pool runs the run itself: taken; a claim handed to a caller is taken by its Jobs.run.
        const outcome = yield* atomic(takeOne(options.kinds, options.leaveUntaken !== true))
        if (outcome === "none") return null
        if (outcome !== "stale") {
          // Committed (the call is uninterruptible whole, `storageErrors`: no interrupt lands before this).
          options.adopted?.(outcome)
          return outcome
        }
      }
      return null
    }).pipe(storageErrors("JobStore.adoptOfferedRun"))

  return { offerRun, adoptOfferedRun }
}
