/**
 * The one way a change is audited (see "Auditing a change" in JobStore.ts):
 * the records a change's `events` gives for its result, checked as the port
 * checks every record, for the store to write with the change.
 */
import * as Effect from "effect/Effect"
import type { DecodeFailure } from "../../domain/Errors.js"
import type { EventRecord } from "../../domain/EventRecord.js"
import { type Audit, AuditRecords } from "../JobStore.js"
import { decodeEventRecords } from "./portInput.js"

/**
 * The records of `events` when they are known before the change — none
 * without `events`, the records of an `auditWith` — decoded at the port;
 * undefined when they are a function of the change's result.
 */
export const recordsGiven = <A>(
  events: Audit<A> | undefined
): Effect.Effect<ReadonlyArray<EventRecord>, DecodeFailure> | undefined => {
  if (events === undefined) return Effect.succeed([])
  const given = (events as Partial<Record<typeof AuditRecords, ReadonlyArray<EventRecord>>>)[AuditRecords]
  return given === undefined ? undefined : decodeEventRecords(given)
}

/** The records `events` gives for `result` (none without `events`), decoded at the port. */
export const auditRecords = <A>(
  events: Audit<A> | undefined,
  result: A
): Effect.Effect<ReadonlyArray<EventRecord>, DecodeFailure> => {
  if (events === undefined) return Effect.succeed([])
  const given = events(result)
  return Effect.isEffect(given) ? Effect.flatMap(given, decodeEventRecords) : decodeEventRecords(given)
}
