/**
 * What both stores' `createClaimed` (eager dispatch, issue 16) share: when a
 * new job could be claimed at all, and the write that only creates it.
 */
import * as Effect from "effect/Effect"
import type { AiJob } from "../../domain/AiJob.js"
import type { JobKind } from "../../domain/JobKind.js"
import { auditWith, type CreatedClaim, type JobStore } from "../JobStore.js"

type Service = JobStore["Type"]
type Options = Parameters<NonNullable<Service["createClaimed"]>>[1]

/** Whether a new job could be claimed at all: eligible at its creation (`run_after` is never before it) and of `kinds`. */
export const claimableOnCreation = (job: AiJob, kinds: ReadonlyArray<JobKind> | undefined): boolean =>
  job.run_after.epochMillis <= job.created_at.epochMillis && (kinds === undefined || kinds.includes(job.job_kind))

/** `createClaimed` without the claim: the store's `createJob` with the creation's records. */
export const createdOnly = (createJob: Service["createJob"]) => (input: Parameters<Service["createJob"]>[0], options: Options) =>
  Effect.map(
    createJob(input, { events: auditWith(options.events), ...(options.at !== undefined ? { at: options.at } : {}) }),
    (created): CreatedClaim => ({ created, claim: null })
  )
