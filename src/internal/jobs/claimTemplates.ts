/**
 * The memo of the one-statement claim (issue 16). Under a deterministic
 * capability policy the records of an admitted claim depend only on the
 * job's subject — kind, protocol, profile and requested profile — and its
 * ids. So each subject the queue shows is decided once: if the policy admits
 * it, its records are prepared once, for a placeholder job, through the very
 * function the general claim builds them with, and kept as a template the
 * store fills in with the claimed job's ids (`JobStore.claimAdmitted`).
 *
 * Bounded: at most `MAX_TEMPLATES` subjects, the least recently claimed
 * dropped first; every claim sends them all in one statement parameter.
 */
import * as Effect from "effect/Effect"
import type { AiJob } from "../../domain/AiJob.js"
import type { DecodeFailure } from "../../domain/Errors.js"
import type { EventRecord } from "../../domain/EventRecord.js"
import { type EventId, JobId, TraceId, WorkflowRunId } from "../../domain/Ids.js"
import { isJobKind } from "../../domain/JobKind.js"
import { MAX_ATTEMPTS_LIMIT } from "../../domain/RetryPolicy.js"
import { isStorable } from "../../domain/Text.js"
import { uuidv7 } from "../../domain/uuidv7.js"
import { vouch } from "../../domain/vouched.js"
import type { ClaimSubject, ClaimTemplate } from "../../store/JobStore.js"

/** Subjects remembered at most: a template list the size of one statement parameter (~1 kB each). */
export const MAX_TEMPLATES = 16

/** A job as a claim's records are built from it. */
export type ClaimedJob = Pick<AiJob, "job_id" | "trace_id" | "job_kind" | "protocol_id" | "profile_id" | "capability_profile_id" | "attempt">

/**
 * The records of `job`'s claim under run `runId`, or null when the policy
 * refuses it: the function the general claim writes its records with.
 */
export type ClaimRecords = (
  job: ClaimedJob,
  runId: WorkflowRunId
) => Effect.Effect<ReadonlyArray<EventRecord> | null, DecodeFailure>

/** The subject's key: its fields joined by U+0000, which no storable text holds. */
const keyOf = (subject: ClaimSubject): string =>
  `${subject.job_kind}\u0000${subject.protocol_id}\u0000${subject.profile_id}\u0000${subject.capability_profile_id}`

export const makeClaimTemplates = (claimRecords: ClaimRecords) => {
  // The placeholder job's ids, this memo's own: the store replaces each wherever it stands.
  const placeholder = {
    job_id: JobId.make(uuidv7()),
    trace_id: TraceId.make(uuidv7()),
    run: WorkflowRunId.make(uuidv7())
  }
  // In use order: the first is the least recently claimed.
  const templates = new Map<string, ClaimTemplate>()
  // What the store is sent, rebuilt only when a subject comes or goes (the store keys its JSON on it).
  let sent: ReadonlyArray<ClaimTemplate> = vouch([])
  let width = 0

  const remember = (template: ClaimTemplate) => {
    templates.set(keyOf(template), template)
    if (templates.size > MAX_TEMPLATES) templates.delete(templates.keys().next().value!)
    const list = [...templates.values()]
    // Checked parts only (the records prepared and vouched for, the subject checked below): the port takes it as it is.
    sent = vouch(list)
    width = list.reduce((most, t) => Math.max(most, t.records.length), 0)
  }

  return {
    /**
     * The templates to send, with a fresh event id for each record of the longest, in order — one at
     * least, unused with no template: the statement then names its claimer all the same, so a worker
     * pool's drain can cancel a claim that waits on a lock (claimCut.ts).
     */
    current: (): { readonly templates: ReadonlyArray<ClaimTemplate>; readonly event_ids: ReadonlyArray<EventId> } => ({
      templates: sent,
      event_ids: Array.from({ length: Math.max(width, 1) }, () => uuidv7() as EventId)
    }),

    /** A claimed job's subject was used: it goes last in line to be dropped. */
    used: (job: ClaimedJob): void => {
      const key = keyOf(job)
      const template = templates.get(key)
      if (template === undefined) return
      templates.delete(key)
      templates.set(key, template)
    },

    /**
     * Decides `subject` and remembers it if the policy admits it. False when
     * the general claim must take the job: refused (it fails the job with its
     * deny records), a kind or text the job's row would not decode with
     * (the general claim reports it), or records that cannot be built (the
     * general claim fails with the same `DecodeFailure`).
     */
    learn: (subject: ClaimSubject): Effect.Effect<boolean> => {
      const { capability_profile_id, job_kind, profile_id, protocol_id } = subject
      if (!isJobKind(job_kind) || ![protocol_id, profile_id, capability_profile_id].every(isStorable)) {
        return Effect.succeed(false)
      }
      const job: ClaimedJob = {
        job_id: placeholder.job_id,
        trace_id: placeholder.trace_id,
        job_kind,
        protocol_id,
        profile_id,
        capability_profile_id,
        // The store puts the claimed job's own in (JobStore.ts `ClaimTemplate`); the widest here, so the record's size is checked at its largest.
        attempt: MAX_ATTEMPTS_LIMIT
      }
      return claimRecords(job, placeholder.run).pipe(
        Effect.map((records) => {
          if (records === null) return false
          remember({ job_kind, protocol_id, profile_id, capability_profile_id, records })
          return true
        }),
        Effect.orElseSucceed(() => false)
      )
    }
  }
}
