/**
 * Changes to a job outside the lifecycle: its pin (R18) and its metrics.
 */
import * as Effect from "effect/Effect"
import { decodeWith } from "../../domain/decode.js"
import { DecodeFailure, JobFinished, readThrew } from "../../domain/Errors.js"
import type { JobId } from "../../domain/Ids.js"
import { JobMetrics, MetricNames } from "../../domain/JobMetrics.js"
import { isTerminal } from "../../domain/Lifecycle.js"
import { nameJob, withJobSpan } from "../flight/jobSpan.js"
import { afterLastChange, pinEvent } from "./auditEvents.js"
import { auditWith } from "../../store/JobStore.js"
import type { Operations, TransitionOptions } from "./operations.js"
import { optionsRefusal, TRANSITION_OPTIONS } from "./transitionOptions.js"

/** Sets a job's pin, with its event, when that changes it (the store writes nothing otherwise). */
export const makeSetPin = ({ prepare, redact, store }: Operations) => (pinned: boolean, name: string) =>
(jobId: JobId, options: TransitionOptions = {}) =>
  withJobSpan(name, (span) => Effect.gen(function*() {
    // Checked before the job is read: an option past its type changes nothing.
    const refused = optionsRefusal(options, "TransitionOptions", TRANSITION_OPTIONS)
    if (refused !== undefined) return yield* refused
    const job = yield* store.transaction(Effect.gen(function*() {
      // Locked, not just read (the lock order's first step): on PostgreSQL a plain read let a
      // transition commit between it and the pin's write, and the pin's event then named the
      // state (and run) the job had left — an event that no longer chained.
      const before = yield* store.lockJob(jobId)
      if (before.is_pinned === pinned) return before
      // Never before the job's last change nor its records, whatever the clock reads (auditEvents.ts).
      const at = yield* afterLastChange(store, before)
      const record = yield* prepare(pinEvent({
        job: before,
        state: before.state,
        workflow_run_id: before.workflow_run_id,
        pinned,
        reason: options.reason,
        actor: options.actor,
        attempt: before.attempt,
        timestamp: at
      }))
      return yield* store.setPinned(jobId, pinned, { events: auditWith([record]), at })
    }))
    // Named on the span outside the transaction's.
    nameJob(span, job)
    return job
  }), redact)

const METRIC_NAMES: ReadonlySet<string> = new Set(MetricNames)

/**
 * The delta, copied once, or why it is refused, past its type: a name that is
 * no metric (a typo was dropped, silently, with the rest added), an amount
 * that is no finite number (`null` was added as 0), or a getter or Proxy trap
 * that throws when read (a defect, once). Undefined amounts are
 * left out, as the type allows.
 */
const readDelta = (delta: unknown): DecodeFailure | ReadonlyArray<readonly [string, number]> => {
  const refuse = (issues: ReadonlyArray<{ readonly path: string; readonly message: string }>) =>
    new DecodeFailure({ subject: "JobMetrics delta", issues })
  if (typeof delta !== "object" || delta === null || Array.isArray(delta)) {
    return refuse([{ path: "", message: "Expected an object of metric names and amounts" }])
  }
  let entries: ReadonlyArray<[string, unknown]>
  try {
    entries = Object.entries(delta)
  } catch (thrown) {
    return refuse([{ path: "", message: readThrew(thrown) }])
  }
  const issues = entries.flatMap(([name, amount]) =>
    !METRIC_NAMES.has(name)
      ? [{ path: name, message: `Expected one of the metrics ${MetricNames.join(", ")}` }]
      : amount !== undefined && !(typeof amount === "number" && Number.isFinite(amount))
      ? [{ path: name, message: "Expected a finite number" }]
      : []
  )
  return issues.length > 0 ? refuse(issues) : entries.filter((entry): entry is [string, number] => entry[1] !== undefined)
}

/** Decodes the amounts as metrics: each in its metric's range, named by the metric when not. */
const decodeAmounts = decodeWith(JobMetrics, "JobMetrics")

/**
 * Adds to a job's metrics, each sum held at its metric's bound (as a settle's
 * duration is: the caller's amount is in range, the total is the job's); a
 * delta past its type, or an amount out of its metric's range, is a
 * `DecodeFailure` and changes nothing. A job in a terminal
 * state is `JobFinished` and changes nothing: its metrics were final when
 * its end was audited (as in the reference, where metrics change only with
 * a state change), and a write there left no event.
 */
export const makeAddMetrics = ({ redact, store }: Operations) =>
(
  jobId: JobId,
  delta: { readonly [K in typeof MetricNames[number]]?: number | undefined }
) =>
  withJobSpan("Jobs.addMetrics", (span) => Effect.gen(function*() {
    const read = readDelta(delta)
    if (read instanceof DecodeFailure) return yield* read
    // Checked before the job is read: an amount out of range changes nothing.
    const amounts = yield* decodeAmounts(Object.fromEntries(read))
    const job = yield* store.transaction(Effect.gen(function*() {
      // Locked, not just read: the sum is written whole, so on PostgreSQL two concurrent calls
      // (or a settle's duration) that both read the old metrics lost one of the deltas.
      const job = yield* store.lockJob(jobId)
      if (isTerminal(job.state)) return yield* new JobFinished({ job_id: job.job_id, state: job.state, change: "addMetrics" })
      return yield* store.updateJob(jobId, { metrics: JobMetrics.add(job.metrics, amounts) })
    }))
    // Named on the span outside the transaction's.
    nameJob(span, job)
    return job
  }), redact)
