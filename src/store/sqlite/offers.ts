/**
 * Runs offered to worker pools, on SQLite (migration 0016): a resumed job's
 * new run that no worker holds, until a pool of its kind takes it. Off the
 * hot path: no claim, submit or lifecycle statement reads the table.
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type { JobKind } from "../../domain/JobKind.js"
import type { Claim, JobStore } from "../JobStore.js"
import { NotFound } from "../StoreErrors.js"
import type { SqliteContext } from "./context.js"
import { decode } from "./rows.js"
import { storedInstant } from "./rowCodec.js"
import { storageErrors } from "./errors.js"

type Service = JobStore["Type"]

// The offer's run is still its job's running run, and nobody has begun running it (Jobs.run's
// take, migration 0018): the only offer a pool may take.
const CURRENT = `EXISTS (
  SELECT 1 FROM ai_jobs j JOIN workflow_runs r ON r.id = j.workflow_run_id
  WHERE j.id = run_offers.job_id AND j.workflow_run_id = run_offers.run_id
    AND j.status = 'running' AND r.status = 'running' AND r.taken = 0)`

// A second offer of the run keeps the first (and its place in line); a row comes back either
// way, none only when there is no such run.
const OFFER = `INSERT INTO run_offers (run_id, job_id, offered_at)
  SELECT id, job_id, ? FROM workflow_runs WHERE id = ?
  ON CONFLICT (run_id) DO UPDATE SET offered_at = run_offers.offered_at
  RETURNING run_id`

const DROP_STALE = `DELETE FROM run_offers WHERE NOT ${CURRENT}`

const oldestText = (kinds: ReadonlyArray<JobKind> | undefined) => `
  SELECT ai_jobs.* FROM run_offers JOIN ai_jobs ON ai_jobs.id = run_offers.job_id
  WHERE ${CURRENT}${kinds === undefined ? "" : ` AND ai_jobs.job_kind IN (${kinds.map(() => "?").join(", ")})`}
  ORDER BY run_offers.offered_at, run_offers.run_id
  LIMIT 1`

// Taken for a pool, which runs the run itself. A claim handed to a caller (Jobs.run takes it) is
// cleared after (UNTAKE): a beat leaving the run untaken would be taken by 0025's trigger (an old worker's beat).
const BEAT = `UPDATE workflow_runs SET last_heartbeat = ?, updated_at = max(created_at, ?), taken = 1
  WHERE id = ? AND status = 'running' AND taken = 0
  RETURNING *`
const UNTAKE = "UPDATE workflow_runs SET taken = 0 WHERE id = ?"

export const makeOfferMethods = ({ exec, transaction }: SqliteContext) => {
  const offerRun: NonNullable<Service["offerRun"]> = (runId) =>
    Effect.gen(function*() {
      const at = storedInstant(yield* DateTime.now)
      const [offered] = yield* transaction.single(exec(OFFER, [at, runId]))
      if (offered === undefined) return yield* new NotFound({ entity: "workflow_run", id: runId })
    }).pipe(storageErrors("JobStore.offerRun"))

  const adoptOfferedRun: NonNullable<Service["adoptOfferedRun"]> = (options = {}) => {
    const kinds = options.kinds
    if (kinds !== undefined && kinds.length === 0) return Effect.succeed(null)
    // One write transaction (BEGIN IMMEDIATE): what it reads cannot change before it writes,
    // and a second process waits its turn instead of taking the same offer. Most looks find
    // no offer at all: one read first, so they never take the write lock.
    const change = Effect.gen(function*() {
      yield* exec(DROP_STALE)
      const [row] = yield* exec(oldestText(kinds), kinds ?? [])
      if (row === undefined) return null
      const job = yield* decode.job(row)
      const runId = job.workflow_run_id!
      yield* exec("DELETE FROM run_offers WHERE run_id = ?", [runId])
      const at = storedInstant(yield* DateTime.now)
      const [run] = yield* exec(BEAT, [at, at, runId])
      // Current a statement ago, under the same write lock.
      if (run === undefined) return null
      if (options.leaveUntaken === true) yield* exec(UNTAKE, [runId])
      return { job, run: yield* decode.run(run) } satisfies Claim
    })
    const adopted = options.adopted
    // `adopted` hears of the claim once it has committed, before any interrupt lands (`transaction.thenCommitted`):
    // an interrupt during the change rolls it back, and `adopted` is never called.
    const take = adopted === undefined
      ? transaction(change)
      : transaction.thenCommitted(change, (claim) => {
        if (claim !== null) adopted(claim)
      })
    return Effect.flatMap(exec("SELECT 1 FROM run_offers LIMIT 1"), (rows) => rows.length === 0 ? Effect.succeed(null) : take).pipe(
      storageErrors("JobStore.adoptOfferedRun")
    )
  }

  return { offerRun, adoptOfferedRun }
}
