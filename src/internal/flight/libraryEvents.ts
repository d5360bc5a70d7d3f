/**
 * Fixed-shape constructors for the events the library writes itself: job
 * lifecycle changes (pins included), capability decisions, recoveries,
 * security violations and the Janitor's summaries.
 *
 * `prepare` decodes an event of unknown shape against the union, encodes it,
 * sanitizes it and decodes it again (50–110 µs an event). These events are
 * built from fields the library already holds decoded — branded ids, states,
 * `DateTime`s, counts — so their shape is known and is written directly, in
 * the order the schema encodes it. What they still carry from callers (a
 * reason, an error message, an actor id, a violation's detail) gets exactly
 * `prepare`'s treatment: NFC and redaction (`sanitizeText`), a label that a
 * rule emptied is refused, then the storable-text rule and the size bound,
 * with the same errors. Ids, states and timestamps are not text: they are not
 * redacted (a caller's rule cannot turn a job id into "[REDACTED]" and make the
 * library's own event unwritable). The test that every event the library
 * writes decodes as `FlightEvent` holds the shapes to the schema.
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { Actor, EventRecord, EventType } from "../../domain/EventRecord.js"
import type { EventId, JobId, TraceId, WorkflowRunId } from "../../domain/Ids.js"
import type { JobState } from "../../domain/JobState.js"
import type { Json } from "../../domain/Json.js"
import { labelMessage } from "../../domain/flightEventShapes.js"
import { hasText, isStorable } from "../../domain/Text.js"
import { uuidv7 } from "../../domain/uuidv7.js"
import { vouch } from "../../domain/vouched.js"
import { type EventTooLarge, InvalidEvent } from "./Errors.js"
import { sizeRefusal, unstorableText } from "./prepare.js"
import { type JsonObject, sanitizeText } from "./Privacy.js"
import { makeRecordMemo, readdress } from "./recordMemo.js"
import type { Redactor } from "./Redactor.js"

/** What every library event may be given: its id and time (default a fresh id, the Clock's now). */
interface Envelope {
  readonly event_id?: EventId
  readonly timestamp?: DateTime.Utc
}

/** A `system` event for one lifecycle change of a job (`from_state` null at creation); pin and unpin too. */
export interface LifecycleEvent extends Envelope {
  readonly kind: "lifecycle"
  readonly actor: Actor
  readonly trace_id: TraceId
  readonly job_id: JobId
  readonly workflow_run_id?: WorkflowRunId | null
  readonly from_state: JobState | null
  readonly to_state: JobState
  /** Caller text. */
  readonly reason?: string
  readonly attempt?: number
  readonly run_after?: DateTime.Utc
}

/** A `capability_action` event: one allow/deny decision (R15). */
export interface CapabilityEvent extends Envelope {
  readonly kind: "capability"
  readonly trace_id: TraceId
  readonly job_id: JobId
  /** Caller text, non-empty. */
  readonly capability_id: string
  /** Caller text, non-empty. */
  readonly actor_id: string
  readonly decision_outcome: "allow" | "deny"
}

/** The `workflow_recovery` event (FR-EVT-WF-RECOVERY) of one run moved `running → stalled`. */
export interface RecoveryEvent extends Envelope {
  readonly kind: "recovery"
  readonly trace_id: TraceId
  readonly job_id: JobId
  readonly workflow_run_id: WorkflowRunId
  readonly reason: string
  readonly last_heartbeat_ts: DateTime.Utc
  readonly threshold_secs: number
}

/** A `security_violation` event a running program reported. */
export interface SecurityViolationEvent extends Envelope {
  readonly kind: "security_violation"
  readonly trace_id: TraceId
  readonly job_id: JobId
  readonly workflow_run_id: WorkflowRunId
  /** Caller text, non-empty. */
  readonly violation: string
  /** Caller text. */
  readonly detail?: string
}

/** The Janitor's `system` summary of one pass (HSK-GC-003); it names no job, so its trace is a fresh one. */
export interface GcSummaryEvent extends Envelope {
  readonly kind: "gc_summary"
  /** Who ran the pass: the Janitor (`system`, the default; any other value too) or an operator's command (`human`). */
  readonly actor?: "system" | "human"
  readonly trace_id?: TraceId
  readonly items_scanned: number
  readonly items_pruned: number
  readonly items_spared_pinned: number
  readonly items_spared_window: number
  readonly dry_run: boolean
  readonly events_purged?: number
}

/** Every event the library writes itself. */
export type LibraryEvent = LifecycleEvent | CapabilityEvent | RecoveryEvent | SecurityViolationEvent | GcSummaryEvent

/** The policy the constructors apply: the recorder's redaction and size bound. */
export interface LibraryEventPolicy {
  readonly redactor: Redactor
  readonly maxEventBytes: number
}

type Body = Record<string, Json>

/**
 * The refusal of the body's empty labels, in the schema's own wording, or null. An optional
 * label also accepts null, but the decode path's issues leave out that alternative beside the
 * specific one (issueBounds.ts `withoutAbsentAlternatives`): so do these.
 */
const emptyLabels = (type: EventType, body: Body, labels: ReadonlyArray<string>): InvalidEvent | null => {
  const empty = labels.filter((key) => typeof body[key] === "string" && !hasText(body[key]))
  return empty.length === 0 ? null : new InvalidEvent({
    event_type: type,
    reasons: empty.map((path) => ({ path, message: labelMessage }))
  })
}

/**
 * The body's caller text checked and sanitized in place, as `prepare` does: the first unstorable
 * string in body order, as given (refused, never rewritten: redaction would take `password=x\u0000`'s
 * NUL away with the secret); then every label a rule emptied (one issue each).
 */
const checkText = (
  type: EventType,
  body: Body,
  text: ReadonlyArray<string>,
  labels: ReadonlyArray<string>,
  policy: LibraryEventPolicy
): InvalidEvent | undefined => {
  // Empty as given, else emptied by a rule: `prepare` checks the input, then the stored form.
  const given = emptyLabels(type, body, labels)
  if (given !== null) return given
  const unstorable = firstUnstorable(type, body, text)
  if (unstorable !== undefined) return unstorable
  for (const key of text) {
    const value = body[key]
    if (typeof value === "string") body[key] = sanitizeText(value, policy.redactor)
  }
  const emptied = emptyLabels(type, body, labels)
  if (emptied !== null) return emptied
  // A caller's rule may make such text of what was storable.
  return policy.redactor.keepsTextStorable === true ? undefined : firstUnstorable(type, body, text)
}

/** The refusal of the first of the body's caller `text` fields `isStorable` refuses, in body order as `prepare` walks it. */
const firstUnstorable = (type: EventType, body: Body, text: ReadonlyArray<string>): InvalidEvent | undefined => {
  for (const key of Object.keys(body)) {
    if (text.includes(key) && typeof body[key] === "string" && !isStorable(body[key])) return unstorableText(type, key)
  }
  return undefined
}

/** The stored body of `event` (JSON, in the schema's encoding order), its caller text not yet sanitized. */
const bodyOf = (event: LibraryEvent, event_id: EventId, timestamp: string, trace_id: TraceId): Body => {
  // The envelope first, in the schema's order; every kind but a lifecycle change and an operator's gc_summary is the system's.
  const envelope = { event_id, timestamp, actor: event.kind === "lifecycle" ? event.actor : event.kind === "gc_summary" && event.actor === "human" ? "human" : "system", trace_id }
  switch (event.kind) {
    case "lifecycle":
      return {
        ...envelope,
        job_id: event.job_id,
        ...(event.workflow_run_id ? { workflow_run_id: event.workflow_run_id } : {}),
        type: "system",
        from_state: event.from_state,
        to_state: event.to_state,
        ...(event.reason !== undefined ? { reason: event.reason } : {}),
        ...(event.attempt !== undefined ? { attempt: event.attempt } : {}),
        ...(event.run_after !== undefined ? { run_after: DateTime.formatIso(event.run_after) } : {})
      }
    case "capability":
      return {
        ...envelope,
        job_id: event.job_id,
        capability_id: event.capability_id,
        type: "capability_action",
        actor_id: event.actor_id,
        decision_outcome: event.decision_outcome
      }
    case "recovery":
      return {
        ...envelope,
        job_id: event.job_id,
        workflow_run_id: event.workflow_run_id,
        type: "workflow_recovery",
        from_state: "running",
        to_state: "stalled",
        reason: event.reason,
        last_heartbeat_ts: DateTime.formatIso(event.last_heartbeat_ts),
        threshold_secs: event.threshold_secs
      }
    case "security_violation":
      return {
        ...envelope,
        job_id: event.job_id,
        workflow_run_id: event.workflow_run_id,
        type: "security_violation",
        violation: event.violation,
        ...(event.detail !== undefined ? { detail: event.detail } : {})
      }
    case "gc_summary":
      return {
        ...envelope,
        type: "system",
        event_type: "meta.gc_summary",
        event_name: "gc_summary",
        items_scanned: event.items_scanned,
        items_pruned: event.items_pruned,
        items_spared_pinned: event.items_spared_pinned,
        items_spared_window: event.items_spared_window,
        dry_run: event.dry_run,
        ...(event.events_purged !== undefined ? { events_purged: event.events_purged } : {})
      }
  }
}

/**
 * Counts a caller may pass on (a Janitor pass's `events_purged`, a threshold)
 * are held to the schema's integer rules; ids, states and times are typed.
 */
const checkCounts = (type: EventType, body: Body, counts: ReadonlyArray<string>): InvalidEvent | undefined => {
  const wrong = counts.filter((key) => {
    const value = body[key]
    return value !== undefined && !(Number.isSafeInteger(value) && (value as number) >= (key === "attempt" ? 1 : 0))
  })
  return wrong.length === 0 ? undefined : new InvalidEvent({
    event_type: type,
    reasons: wrong.map((path) => ({ path, message: path === "attempt" ? "Expected an integer ≥ 1" : "Expected an integer ≥ 0" }))
  })
}

/** What each kind is stored as, and which of its fields carry caller text, labels and counts. */
interface Shape {
  readonly type: EventType
  /** Caller text: sanitized and held to the storable-text rule. */
  readonly text: ReadonlyArray<string>
  /** Caller text that must stay non-empty (the schema's `Label`). */
  readonly labels: ReadonlyArray<string>
  /** Whole numbers (the schema's `NonNegativeInt`, `attempt` from 1). */
  readonly counts: ReadonlyArray<string>
}

const shapes: { readonly [K in LibraryEvent["kind"]]: Shape } = {
  lifecycle: { type: "system", text: ["reason"], labels: [], counts: ["attempt"] },
  capability: {
    type: "capability_action",
    text: ["capability_id", "actor_id"],
    labels: ["capability_id", "actor_id"],
    counts: []
  },
  recovery: { type: "workflow_recovery", text: ["reason"], labels: [], counts: ["threshold_secs"] },
  security_violation: { type: "security_violation", text: ["violation", "detail"], labels: ["violation"], counts: [] },
  gc_summary: {
    type: "system",
    text: [],
    labels: [],
    counts: ["items_scanned", "items_pruned", "items_spared_pinned", "items_spared_window", "events_purged"]
  }
}

/** Caller text longer than this is built every time: a memo of long reasons would only hold memory. */
const MAX_KEY_LENGTH = 1024

/**
 * The event's content apart from its address, as a key; undefined when the
 * event is built in full every time (a kind with per-event values — a
 * recovery's heartbeat, a scheduled `run_after` — or long caller text).
 */
const contentKey = (event: LibraryEvent): string | undefined => {
  let key: string
  switch (event.kind) {
    case "lifecycle":
      if (event.run_after !== undefined) return undefined
      key = JSON.stringify([
        event.kind,
        event.actor,
        event.from_state,
        event.to_state,
        // The body holds a run id only when there is one.
        Boolean(event.workflow_run_id),
        event.reason ?? null,
        event.attempt ?? null
      ])
      break
    case "capability":
      key = JSON.stringify([
        event.kind,
        event.capability_id,
        event.actor_id,
        event.decision_outcome
      ])
      break
    default:
      return undefined
  }
  return key.length <= MAX_KEY_LENGTH ? key : undefined
}

/** The event type a library event of `kind` is stored as. */
export const libraryEventType = (kind: LibraryEvent["kind"]): EventType => shapes[kind].type

/** Whether `build` was given an object of a kind it builds (a public method: `null` threw from the call itself). */
export const isLibraryEvent = (event: unknown): event is LibraryEvent =>
  typeof event === "object" && event !== null && Object.prototype.hasOwnProperty.call(shapes, (event as { readonly kind?: unknown }).kind as PropertyKey)

/** A library event's record, or why its caller text is refused: the outcome of a build, as a value. */
type Built = Exit.Exit<EventRecord, InvalidEvent | EventTooLarge>

/**
 * Builds the constructor under `policy`: a library event → the record a store
 * appends, or `InvalidEvent`/`EventTooLarge` for its caller text, as `prepare`
 * would give. An event whose content was built before is that record
 * re-addressed (recordMemo.ts): its text was sanitized and checked then.
 *
 * One Effect operation a build (issue 16; a chain of Effect steps took ~6):
 * the Clock is read once and the rest is a synchronous core whose outcome is
 * an `Exit`, itself the Effect returned; none when the event has its time.
 */
export const makeBuild = (policy: LibraryEventPolicy) => {
  const memo = makeRecordMemo()
  const buildAt = (event: LibraryEvent, now: DateTime.Utc): Built => {
    const { counts, labels, text, type } = shapes[event.kind]
    // uuidv7 gives canonical lower-case ids: no need to check them again.
    const event_id = event.event_id ?? uuidv7() as EventId
    const trace_id = event.trace_id ?? uuidv7() as TraceId
    const timestamp = event.timestamp ?? now
    const key = contentKey(event)
    const template = key === undefined ? undefined : memo.template(key)
    const copy = template === undefined || event.kind === "gc_summary" ? undefined : readdress(template, {
      event_id,
      timestamp,
      trace_id,
      job_id: event.job_id,
      workflow_run_id: ("workflow_run_id" in event && event.workflow_run_id) || null
    }, event.event_id === undefined)
    if (copy !== undefined) return Exit.succeed(copy)
    const body = bodyOf(event, event_id, DateTime.formatIso(timestamp), trace_id)
    // The counts first, then the caller text (sanitized in place before anything below reads it), then the size.
    const refused = checkCounts(type, body, counts) ??
      checkText(type, body, text, labels, policy) ??
      sizeRefusal(body as JsonObject, event_id, type, policy.maxEventBytes)
    if (refused !== undefined) return Exit.fail(refused)
    // Checked: vouched for, so the store's port does not decode it again (domain/vouched.ts).
    const record = vouch<EventRecord>({
      event_id,
      timestamp,
      actor: body.actor as Actor,
      type,
      trace_id,
      job_id: event.kind === "gc_summary" ? null : event.job_id,
      workflow_run_id: (body.workflow_run_id as WorkflowRunId | undefined) ?? null,
      body: body as JsonObject
    })
    if (key !== undefined) memo.remember(key, record)
    return Exit.succeed(record)
  }
  // An event given its time reads no clock: its outcome is the Effect itself.
  return (event: LibraryEvent): Effect.Effect<EventRecord, InvalidEvent | EventTooLarge> =>
    !isLibraryEvent(event)
      ? Effect.fail(new InvalidEvent({ event_type: null, reasons: [{ path: "kind", message: `Expected one of the library's events: ${Object.keys(shapes).join(" | ")}` }] }))
      : event.timestamp !== undefined
      ? buildAt(event, event.timestamp)
      : Effect.clockWith((clock) => buildAt(event, DateTime.unsafeMake(clock.unsafeCurrentTimeMillis())))
}
