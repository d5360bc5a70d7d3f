/**
 * What a job's view (`Jobs.history`, `GET /jobs/:id`, `ai-jobs jobs show`)
 * says of evidence retention removed (FR-EVT-004): one read of the store's
 * retention horizon, held against when the job and its runs started.
 */
import * as Effect from "effect/Effect"
import type { AiJob } from "../domain/AiJob.js"
import { evidenceMissing } from "../domain/RetentionHorizon.js"
import type { WorkflowRun } from "../domain/WorkflowRun.js"
import type { JobStore } from "../store/JobStore.js"

/** The job's `EvidenceMissing`, or null when retention removed nothing it could have had. */
export const missingEvidenceOf = (store: JobStore["Type"], job: AiJob, runs: ReadonlyArray<WorkflowRun>) =>
  Effect.map(store.retentionHorizon, (horizon) => evidenceMissing(horizon, [job.created_at, ...runs.map((run) => run.created_at)]))
