/**
 * Eager dispatch on SQLite (issue 16, pickup): `createClaimed` — a new job
 * created and, when no eligible queued job of the waiting worker's kinds
 * comes before it, claimed for that worker in the same write transaction:
 * one commit instead of the submit's and the claim's. Built of `createJob`'s
 * and the claim's own pieces: the job inserted, then the run created for the
 * head of the queue only if that head is the new job itself, then the job
 * moved to running, then every record.
 */
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import type { AiJob } from "../../domain/AiJob.js"
import { newJob, newRun } from "../internal/newRows.js"
import { atOrNow } from "../internal/now.js"
import { claimableOnCreation, createdOnly } from "../internal/createClaimed.js"
import { transactionOf } from "../internal/execute.js"
import { type Claim, type CreatedClaim, type JobStore } from "../JobStore.js"
import { AlreadyExists } from "../StoreErrors.js"
import { insertRunText, nextJobText, takenParam, textsByKinds } from "./claim.js"
import { insertEventsStep, type SqliteContext } from "./context.js"
import { sqliteCode, storageErrors } from "./errors.js"
import { insertJob } from "./jobs.js"
import { storedInstant } from "./rowCodec.js"
import type { Step } from "./step.js"

type Service = JobStore["Type"]
type Options = Parameters<NonNullable<Service["createClaimed"]>>[1]

/**
 * The run for the new job, only if it is the head of the queue `claimNext`
 * would take (same order, same index): then nothing eligible of the kinds
 * comes before it. Parameters: the run's id, the instant, taken, the instant twice, the
 * kinds, the job's id.
 */
const runIfHeadText = textsByKinds((kinds) =>
  insertRunText(`SELECT id, updated_at FROM (${nextJobText("id, updated_at", kinds)}) WHERE id = ?`)
)

const START_JOB = "UPDATE ai_jobs SET status = 'running', status_reason = '', workflow_run_id = ? WHERE id = ?"

/** The write (a step, step.ts), under the write lock: the job and, when it heads the queue, its claim. */
function* createAndClaim(job: AiJob, options: Options): Step<Claim | null> {
  const at = storedInstant(job.created_at)
  const runId = options.claim.run_id
  yield* insertJob(job, [])
  let picked: unknown
  try {
    ;[picked] = yield [runIfHeadText(options.kinds), [runId, at, takenParam(options.take), at, at, ...(options.kinds ?? []), job.job_id]]
  } catch (error) {
    // The only key this INSERT can find taken is the run's (the job's was just inserted).
    throw error instanceof SqlError && sqliteCode(error) === "SQLITE_CONSTRAINT_PRIMARYKEY"
      ? new AlreadyExists({ entity: "workflow_run", id: runId })
      : error
  }
  if (picked === undefined) {
    yield* insertEventsStep(options.events)
    return null
  }
  // As a claim moves its job (claim.ts `startJob`); its updated_at is the instant already. Nothing else
  // wrote the row under this write lock: what is stored is the new job, running under its run.
  yield [START_JOB, [runId, job.job_id]]
  // The creation's records and the claim's in one INSERT.
  yield* insertEventsStep([...options.events, ...options.claim.records])
  return {
    job: { ...job, workflow_run_id: runId, state: "running", status_reason: "" },
    run: newRun(job.job_id, job.created_at, runId)
  }
}

/** `createClaimed` on the store's `createJob`: inside a transaction, and for a job that cannot be claimed, it is `createJob`. */
export const makeCreateClaimed = ({ change }: SqliteContext, createJob: Service["createJob"]): NonNullable<Service["createClaimed"]> => {
  const createOnly = createdOnly(createJob)
  const reported = storageErrors("JobStore.createClaimed")

  return (input, options) =>
    Effect.withFiberRuntime((fiber) =>
      // Inside a transaction, never claimed: a worker handed the job could run it before a rollback.
      transactionOf(fiber)._tag === "Some"
        ? createOnly(input, options)
        : atOrNow(options.at, (now) => {
          const job = newJob(input, now)
          if (!claimableOnCreation(job, options.kinds)) return createOnly(input, options)
          return reported(Effect.map(
            change<Claim | null, AlreadyExists | SqlError>(() => createAndClaim(job, options)),
            (claim): CreatedClaim => ({ created: job, claim })
          ))
        })
    )
}
