/**
 * Security violations (the reference's `handle_security_violation`,
 * HSK-ACE-VAL-101): a program that finds one while its job runs reports it
 * through its run context. In one transaction the library records a
 * `security_violation` event and marks the job, the running node executions
 * and the run `poisoned` — final, never retried (R6b) — and the program is
 * stopped; `Jobs.run` fails with `SecurityViolation`.
 *
 * Better than the reference: its event is "best effort" and its writes are
 * separate, so a crash can leave a violation unrecorded or a job half
 * poisoned. Here the event and every poisoned row commit together.
 */
import type * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { AiJob } from "../../domain/AiJob.js"
import type { EventRecord } from "../../domain/EventRecord.js"
import { hasText } from "../../domain/Text.js"
import type { WorkflowRun } from "../../domain/WorkflowRun.js"
import type { FlightRecorder } from "../flight/recorder.js"
import type { JobStore } from "../../store/JobStore.js"
import { afterLastChange, lifecycleEvent, type Prepare, securityViolationEvent } from "./auditEvents.js"
import { endOpenNodes } from "./openNodes.js"
import { nameJob, withJobSpan } from "../flight/jobSpan.js"
import { ownBuild } from "../flight/ownBuild.js"

/** What a program reports: what kind of violation, and what it saw. */
export interface ViolationReport {
  /** A short code, e.g. `prompt_injection`, `cloud_leakage`, `export_violation`. */
  readonly violation: string
  /** What was found and where (recorded in the event, through the redactor). */
  readonly detail?: string | undefined
}

/**
 * `Jobs.run` stopped the program because it reported a security violation.
 * `poisoned` says whether the job was poisoned: false only when the run had
 * already been taken away (recovered or cancelled) or had ended (`run_ended`,
 * its status: reported from a fiber that outlived `Jobs.run`), in which case
 * the violation is recorded on its own.
 */
export class SecurityViolation extends Schema.TaggedError<SecurityViolation>()("SecurityViolation", {
  job_id: Schema.String,
  workflow_run_id: Schema.String,
  violation: Schema.String,
  detail: Schema.optionalWith(Schema.String, { exact: true }),
  poisoned: Schema.Boolean,
  /** Reported after the run had ended by itself (from a fiber that outlived `Jobs.run`): the status it ended with. */
  run_ended: Schema.optionalWith(Schema.String, { exact: true })
}) {
  override get message(): string {
    return `Security violation ${this.violation} in job ${this.job_id} (run ${this.workflow_run_id}); ` +
      (this.poisoned
        ? "the job is poisoned"
        : this.run_ended !== undefined
        ? `the run had already ended ${this.run_ended}, so the violation is recorded but nothing was poisoned`
        : "the run had already been taken away, so the violation is recorded but nothing was poisoned")
  }
}

/** What a report's code is recorded as when no event can hold it (not text, U+0000, too long): the job is still poisoned. */
const UNRECORDABLE = "unrecordable_violation"

/** The label a report is recorded under: never empty, so a careless report still poisons. */
const violationOf = (report: ViolationReport | null | undefined): string =>
  typeof report?.violation !== "string" || !hasText(report.violation) ? "unspecified" : report.violation

/** The report's detail, when it is text. */
const detailOf = (report: ViolationReport | null | undefined): string | undefined =>
  typeof report?.detail === "string" ? report.detail : undefined

/**
 * Builds `poison(job, run, report)`: the one transaction of a reported
 * violation. Returns whether the job was poisoned (it may no longer be
 * running) and the code recorded.
 */
export const makePoison = (store: JobStore["Type"], recorder: FlightRecorder["Type"], prepare: Prepare) => {
  const ownBuilt = ownBuild(recorder)
  const build = (job: AiJob, run: WorkflowRun, violation: string, detail: string | undefined, timestamp: DateTime.Utc) =>
    Effect.map(
      ownBuilt(securityViolationEvent({ job, run, violation, timestamp, ...(detail !== undefined ? { detail } : {}) })),
      (record) => ({ record, violation })
    )

  /**
   * The violation event and the code it records. A detail the recorder refuses (too large, U+0000)
   * is replaced by the reason; a code it refuses, by `unrecordable_violation` with a detail saying
   * so — the event is never lost, and the job is poisoned under the code recorded, never left
   * `failed` for a retry to run again.
   */
  const violationRecord = (
    job: AiJob,
    run: WorkflowRun,
    report: ViolationReport,
    timestamp: DateTime.Utc
  ): Effect.Effect<{ readonly record: EventRecord; readonly violation: string }> => {
    const violation = violationOf(report)
    return build(job, run, violation, detailOf(report), timestamp).pipe(
      Effect.catchAll((error) => build(job, run, violation, `detail not recorded: ${error.message}`, timestamp)),
      Effect.catchAll(() => build(job, run, UNRECORDABLE, "the reported violation code could not be recorded (not storable text, or too long)", timestamp)),
      Effect.orDie
    )
  }

  const poisonUnder = (job: AiJob, run: WorkflowRun, report: ViolationReport) =>
    Effect.gen(function*() {
      return yield* store.transaction(Effect.gen(function*() {
        // The job first (the lock order in JobStore.ts), then the run's nodes — while the run is
        // still the job's active run, as every write for a run requires — then the job and the run.
        const current = yield* store.lockJob(job.job_id)
        // Never before the job's last change as locked, whatever the clock reads: not as claimed
        // (`job`), since a pin or metrics while it ran came later (found by an outside probe).
        // Nor before that change's records, which a clock behind would list it before (auditEvents.ts).
        const timestamp = yield* afterLastChange(store, current)
        const { record: recorded, violation } = yield* violationRecord(job, run, report, timestamp)
        const error = `Security violation: ${violation}`
        // The move's reason is the job's status_reason, as every change's is; the error text is the job's and run's error_message.
        const reason = `poisoned: ${violation}`
        if (current.state !== "running" || current.workflow_run_id !== run.id) {
          // The run was taken away (recovered, cancelled): nothing to poison, but the violation is still recorded.
          yield* store.appendEvents([recorded]).pipe(Effect.catchTag("AlreadyExists", Effect.die))
          return { poisoned: false, violation }
        }
        const lifecycle = yield* prepare(lifecycleEvent({ job, from: "running", to: "poisoned", workflow_run_id: run.id, reason, attempt: current.attempt, timestamp }))
        yield* endOpenNodes(store, run.id, "poisoned", error)
        yield* store.transition({
          job_id: job.job_id,
          from: "running",
          to: "poisoned",
          status_reason: reason,
          error_message: error,
          events: () => [recorded, lifecycle],
          at: timestamp
        })
        yield* store.finishRun(run.id, "poisoned", { error_message: error })
        return { poisoned: true, violation }
      })).pipe(
        // With the job locked and running under this run, none of these can happen: a bug, not an outcome.
        Effect.catchTags({ IllegalTransition: Effect.die, RunNotActive: Effect.die })
      )
    })

  return (job: AiJob, run: WorkflowRun, report: ViolationReport) =>
    withJobSpan("Jobs.securityViolation", (span) => {
      nameJob(span, job)
      span.attribute("hsk.workflow_run_id", run.id)
      return poisonUnder(job, run, report)
    }, recorder.redact)
}
