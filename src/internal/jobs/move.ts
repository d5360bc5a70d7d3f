/**
 * The guarded moves of `Jobs` (complete, cancel, fail, retry, …): one
 * transition with its event. The job is locked first (the lock order in
 * JobStore.ts), so the state it is moved from is the state it is in: a
 * concurrent claim makes a cancel `running → cancelled`, never a lost race. A
 * running job leaves `running` the one way a run ends (endRun.ts); a stalled
 * job's move ends the nodes its stalled run left running (openNodes.ts).
 */
import * as Effect from "effect/Effect"
import type * as Tracer from "effect/Tracer"
import type { AiJob } from "../../domain/AiJob.js"
import type { JobId } from "../../domain/Ids.js"
import { IllegalTransition } from "../../domain/Errors.js"
import { allowedFrom, canTransition, type TransitionTarget } from "../../domain/Lifecycle.js"
import { nameJob, withJobSpanNoted } from "../flight/jobSpan.js"
import { afterLastChange, lifecycleEvent } from "./auditEvents.js"
import { unlessInTransaction } from "./announceLost.js"
import { endStalledNodes } from "./openNodes.js"
import type { makeEndRun, makeFinishRunning, RunEnd } from "./endRun.js"
import { auditWith } from "../../store/JobStore.js"
import type { Operations, TransitionOptions } from "./operations.js"
import { FAIL_OPTIONS, optionsRefusal, TRANSITION_OPTIONS } from "./transitionOptions.js"

/** A move's options as a run's end (`RunEnd` without its target): only the fields given. */
const endOf = (options: TransitionOptions & { readonly error?: string }): Omit<RunEnd, "to"> => {
  const end: { -readonly [K in keyof Omit<RunEnd, "to">]: RunEnd[K] } = {}
  if (options.reason !== undefined) end.reason = options.reason
  if (options.error !== undefined) end.error = options.error
  if (options.actor !== undefined) end.actor = options.actor
  return end
}

export const makeMove = (
  { announce, prepare, redact, store }: Operations,
  endRun: ReturnType<typeof makeEndRun>,
  finishRunning: ReturnType<typeof makeFinishRunning>
) =>
(to: TransitionTarget, name: string) => {
  // The operation as its refusal names it (`retry` for `Jobs.retry`), and the states it moves from: the
  // general table's, so never a release's `running → queued`, which is no retry (found by a new-user probe).
  const operation = name.replace(/^Jobs\./, "")
  const accepts = allowedFrom(to)
  /**
   * The general path: the job locked and read, then moved from the state it is in. The job read
   * names its trace on `span` at once, so a refused move's span carries it too (found by an outside probe).
   */
  const lockAndMove = (span: Tracer.Span, jobId: JobId, end: Omit<RunEnd, "to">) =>
    store.transaction(Effect.gen(function*() {
      const before = yield* store.lockJob(jobId)
      nameJob(span, before)
      // Refused before anything is built, with the operation's own states, as start's, resume's and rework's are (begin.ts).
      if (!canTransition(before.state, to)) {
        return yield* new IllegalTransition({ job_id: before.job_id, from: before.state, to, operation, accepts })
      }
      // `running → queued` is no move of the general table (only a run's own release takes it).
      if (before.state === "running" && before.workflow_run_id !== null && to !== "queued" && to !== "running") {
        // Only a release fails with RunNotActive, and a move never releases.
        return yield* endRun(before, before.workflow_run_id, { ...end, to }).pipe(Effect.catchTag("RunNotActive", Effect.die))
      }
      // Out of `stalled`: the nodes its stalled run left running end with the move (openNodes.ts).
      // Only on an edge the table allows: a refused move writes nothing.
      if (before.state === "stalled" && canTransition("stalled", to)) yield* endStalledNodes(store, before, to, end.error, end.reason)
      // Read with the job locked, and never before its last change: a clock stepped back (or another
      // host's behind) put a cancel before the submit it follows (found by an outside probe); nor
      // before that change's records, which a clock behind would list it before.
      const at = yield* afterLastChange(store, before)
      // A retry by hand is a new attempt, eligible at once (issue 15.1).
      const retry = before.state === "failed" && to === "queued"
        ? { attempt: before.attempt + 1, run_after: at }
        : undefined
      const record = yield* prepare(lifecycleEvent({ job: before, from: before.state, to, workflow_run_id: before.workflow_run_id, ...end, attempt: before.attempt, ...retry, timestamp: at }))
      // Compare-and-set on the state we locked: with the row held it cannot miss, and it never overwrites.
      return yield* store.transition({
        job_id: jobId,
        to,
        from: before.state,
        status_reason: end.reason ?? "",
        ...(end.error !== undefined ? { error_message: end.error } : {}),
        ...retry,
        events: auditWith([record]),
        at
      })
    }))
  // A move to `queued` or `running` never ends a run in one statement: straight to the general path.
  const endsARun = to !== "queued" && to !== "running"
  // Only a move to `failed` records an error (`Jobs.fail` gives it): on any other move it is an unknown option.
  const known = to === "failed" ? FAIL_OPTIONS : TRANSITION_OPTIONS
  /**
   * A move interrupted once its write was sent: the store finishes the write,
   * then the interrupt takes effect and the announcement after it was never
   * made — a cancel reached the running program only at its next heartbeat,
   * `Jobs.await` was not woken (found by an outside probe). The job is read and
   * announced as it is, whether the move committed or not: an announcement is
   * a hint to look, and a spurious one finds nothing changed. Only on the
   * interrupt's path (the span's own frame); a failed read announces nothing.
   */
  const interrupted = announce === undefined
    ? undefined
    : (jobId: JobId) => unlessInTransaction(store, Effect.ignore(Effect.flatMap(store.getJob(jobId), announce)))
  return (jobId: JobId, options: TransitionOptions & { readonly error?: string } = {}) =>
    withJobSpanNoted(name, redact, () => jobId, (span) => {
      nameJob(span, { job_id: jobId })
      // Checked before the job is read: an option past its type changes nothing.
      const refused = optionsRefusal(options, "TransitionOptions", known)
      if (refused !== undefined) return Effect.fail(refused)
      const end = endOf(options)
      /** The moved job named on the span and announced. No `Effect.gen`: the common move is two continuations (issue 16). */
      const moved = (job: AiJob): Effect.Effect<AiJob> => {
        nameJob(span, job)
        return announce === undefined ? Effect.succeed(job) : Effect.as(announce(job), job)
      }
      if (!endsARun) return Effect.flatMap(lockAndMove(span, jobId, end), moved)
      // A running job's move that ends its run: one statement where the store has one (null: not running, or no such path).
      return Effect.flatMap(
        finishRunning(jobId, { ...end, to }),
        (finished) => finished !== null ? moved(finished) : Effect.flatMap(lockAndMove(span, jobId, end), moved)
      )
    }, interrupted)
}
