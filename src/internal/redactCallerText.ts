/**
 * The store as Jobs writes through it: free text a caller (or a caller's
 * program) gives, stored outside the Flight Recorder — a job's
 * `status_reason`, the `error_message` of a job, run or node — passes the
 * recorder's redaction first (R14), the very rules that redact the events
 * about the same change, NFC-normalised as they are. So a bearer token in a
 * cancel reason is redacted in the job row exactly as in its `system` event.
 *
 * One place: every path by which Jobs and its runner store such text goes
 * through this wrapper. Ids, kinds and payloads are data and pass unchanged;
 * so does anything that is not a string (the port refuses it).
 */
import { isStorable } from "../domain/Text.js"
import type { JobStore } from "../store/JobStore.js"

type Store = JobStore["Type"]

type WithText = { readonly status_reason?: string | undefined; readonly error_message?: string | null | undefined }

/**
 * A caller's text as the events about the same change hold it
 * (Privacy.ts `sanitizeText`): NFC-normalised, redacted, NFC-normalised
 * again (R14) — so a reason in decomposed form is stored alike in the row
 * and in its event. Text the input rules refuse (U+0000, a lone surrogate)
 * goes on as given, for the port to refuse as it refuses it without a
 * secret: caller text is refused, never rewritten, and `password=x\u0000y`
 * was stored as `password=[REDACTED]`, its NUL redacted away. Checked only
 * when the text changed: unchanged, the port checks what it checked.
 */
const storedText = (text: string, redact: (text: string) => string): string => {
  if (text === "") return text
  const stored = redact(text.normalize("NFC")).normalize("NFC")
  return stored === text || isStorable(text) ? stored : text
}

/** The store with `redact` (after NFC, as the events do) applied to every stored caller text field. */
export const redactCallerText = (store: Store, redact: (text: string) => string): Store => {
  const fields = <T extends WithText>(value: T): T => {
    if (typeof value !== "object" || value === null) return value
    const reason = typeof value.status_reason === "string" ? storedText(value.status_reason, redact) : value.status_reason
    const error = typeof value.error_message === "string" ? storedText(value.error_message, redact) : value.error_message
    // Nothing redacted (the usual case: no text, or no secret in it): the value as given, not a copy.
    if (reason === value.status_reason && error === value.error_message) return value
    const out: { status_reason?: string | undefined; error_message?: string | null | undefined } = { ...value }
    if (typeof value.status_reason === "string") out.status_reason = reason!
    if (typeof value.error_message === "string") out.error_message = error!
    return out as T
  }
  return {
    ...store,
    createJob: (job, options) => store.createJob(fields(job), options),
    // Not an array (plain JavaScript): passed on for the port to refuse.
    createJobs: (jobs, options) => store.createJobs(Array.isArray(jobs) ? jobs.map(fields) : jobs, options),
    transition: (request) => store.transition(fields(request)),
    updateJob: (jobId, patch) => store.updateJob(jobId, fields(patch)),
    finishRun: (runId, status, options) => store.finishRun(runId, status, options === undefined ? options : fields(options)),
    finishNode: (nodeId, outcome) => store.finishNode(nodeId, fields(outcome)),
    endStalledRunNodes: (runId, outcome) => store.endStalledRunNodes(runId, fields(outcome)),
    ...(store.finishRunningJob === undefined ? {} : {
      finishRunningJob: (end: Parameters<NonNullable<Store["finishRunningJob"]>>[0]) => store.finishRunningJob!(fields(end))
    }),
    ...(store.createClaimed === undefined ? {} : {
      createClaimed: (job: Parameters<NonNullable<Store["createClaimed"]>>[0], options: Parameters<NonNullable<Store["createClaimed"]>>[1]) =>
        store.createClaimed!(fields(job), options)
    }),
    ...(store.settleRun === undefined ? {} : {
      settleRun: (settle: Parameters<NonNullable<Store["settleRun"]>>[0]) => store.settleRun!(fields(settle))
    })
  }
}
