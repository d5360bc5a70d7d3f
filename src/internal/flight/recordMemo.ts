/**
 * Library records re-addressed instead of rebuilt (issue 16). A job's
 * lifecycle change or a capability decision is, most of the time, the very
 * event another job had a moment ago — the same states, the same policy's
 * decision with the same profile and reason — under another event id, time,
 * trace, job and run. Building it sanitizes its caller text (NFC, the
 * redaction rules), checks it and measures its stored JSON; none of that
 * depends on the address. So the recorder keeps the last record built for
 * each such content and, for the next event with the same content, copies
 * it with the new address.
 *
 * What makes the copy the record a build would give: the address fields are
 * not caller text (never sanitized); every one of them is replaced where the
 * template's body holds it, keeping the key order; and each replacement is
 * ASCII of the same length as the text it replaces (canonical ids, an
 * RFC 3339 time of the same width), so the stored size — the one check that
 * reads the whole body — is the template's, already checked. Anything else
 * (a non-canonical id, a time of another width, a run where the template had
 * none) is built in full. Which events are memoised, by what key, is
 * libraryEvents.ts's (`contentKey`). test/flight/record-memo.test.ts holds
 * the copies to fresh builds.
 */
import * as DateTime from "effect/DateTime"
import type { EventRecord } from "../../domain/EventRecord.js"
import { type EventId, isCanonicalId, type JobId, type TraceId, type WorkflowRunId } from "../../domain/Ids.js"
import type { Json } from "../../domain/Json.js"
import { vouch } from "../../domain/vouched.js"
import type { JsonObject } from "./Privacy.js"

/** Contents remembered at most; the oldest is dropped first. Each is one small record. */
export const MAX_MEMO_ENTRIES = 256

/** Where a record goes: what a re-addressed copy takes from the new event. */
export interface Address {
  readonly event_id: EventId
  readonly timestamp: DateTime.Utc
  readonly trace_id: TraceId
  readonly job_id: JobId
  readonly workflow_run_id: WorkflowRunId | null
}

/** The last time formatted, by its millisecond: the events of one change often share it (a submit's do), formatted once. */
let lastMillis = Number.NaN
let lastIso = ""
const isoOf = (at: DateTime.Utc): string => {
  if (at.epochMillis !== lastMillis) {
    lastIso = DateTime.formatIso(at)
    lastMillis = at.epochMillis
  }
  return lastIso
}

/**
 * Whether every id of `address` is canonical, each distinct one checked once:
 * a finish's record (endRun.ts `makeFinishRunning`) repeats its job id as
 * its trace and run placeholders. `freshEventId`: the event id is the
 * builder's own `uuidv7`, canonical by construction.
 */
const canonicalIds = (address: Address, freshEventId: boolean): boolean => {
  const job: string = address.job_id
  const trace: string = address.trace_id
  const run: string | null = address.workflow_run_id
  return isCanonicalId(job) &&
    (trace === job || isCanonicalId(trace)) &&
    (run === null || run === job || run === trace || isCanonicalId(run)) &&
    (freshEventId || isCanonicalId(address.event_id))
}

/**
 * `template` under `address`, or undefined when the copy could differ from a
 * build (see the module comment). `freshEventId`: the address's event id is a
 * new `uuidv7` (canonical: not checked again).
 */
export const readdress = (template: EventRecord, address: Address, freshEventId = false): EventRecord | undefined => {
  const body = template.body as Record<string, Json>
  const timestamp = isoOf(address.timestamp)
  const run = address.workflow_run_id
  if (
    timestamp.length !== (body.timestamp as string).length ||
    (run === null) !== (template.workflow_run_id === null) ||
    !canonicalIds(address, freshEventId)
  ) return undefined
  // The template's key order: its fields overwritten in place.
  const copy: Record<string, Json> = {
    ...body,
    event_id: address.event_id,
    timestamp,
    trace_id: address.trace_id,
    job_id: address.job_id
  }
  if (run !== null) copy.workflow_run_id = run
  // From a vouched record, its address replaced by checked ids and the clock's time: vouched as a build's is.
  return vouch({
    event_id: address.event_id,
    timestamp: address.timestamp,
    actor: template.actor,
    type: template.type,
    trace_id: address.trace_id,
    job_id: address.job_id,
    workflow_run_id: run,
    body: copy as JsonObject
  })
}

/** A bounded memo of records by content: `template` to look one up, `remember` to keep a fresh build. */
export const makeRecordMemo = () => {
  const templates = new Map<string, EventRecord>()
  return {
    template: (key: string): EventRecord | undefined => templates.get(key),
    remember: (key: string, record: EventRecord): void => {
      templates.delete(key)
      templates.set(key, record)
      if (templates.size > MAX_MEMO_ENTRIES) templates.delete(templates.keys().next().value!)
    }
  }
}
