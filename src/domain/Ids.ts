/**
 * Identifiers. Each is a UUID string with a brand, so a job id can't be passed
 * where a workflow run id is expected.
 *
 * One canonical form, decided here at the boundary: any-case hex is accepted
 * and decodes to lower case, the form every id is stored, compared and
 * returned in. PostgreSQL's `uuid` type and SQLite's text compare the same
 * way once both only ever see lower case (an upper-case id can't name a second
 * job on SQLite, and `submit` and `get` agree on PostgreSQL). The nil UUID
 * names nothing: it is refused for every id (the reference refuses it for
 * event and trace ids; we hold job, run and node ids to the same rule).
 */
import * as Schema from "effect/Schema"

/** The nil UUID: never an id. */
export const NIL_UUID = "00000000-0000-0000-0000-000000000000"

const ANY_CASE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const CANONICAL = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** Whether `text` is an id in its stored form (lower case, not nil): what every id schema decodes it to, unchanged. */
export const isCanonicalId = (text: unknown): text is string =>
  typeof text === "string" && CANONICAL.test(text) && text !== NIL_UUID

const id = <B extends string>(brand: B) => {
  /** The stored form: lower-case, not nil. */
  const canonical = Schema.String.pipe(
    Schema.filter((text) => CANONICAL.test(text) && text !== NIL_UUID, {
      message: () => `Expected ${brand} to be a lower-case UUID other than the nil UUID`,
      arbitrary: () => (fc) => fc.uuid().map((uuid) => uuid.toLowerCase()).filter((uuid) => uuid !== NIL_UUID)
    }),
    Schema.brand(brand)
  ).annotations({ identifier: brand })
  const schema = Schema.transform(
    Schema.String.pipe(
      Schema.filter((text) => ANY_CASE.test(text), {
        message: () => `Expected ${brand} to be a UUID (8-4-4-4-12 hex digits)`
      }),
      Schema.filter((text) => text !== NIL_UUID, {
        message: () => `Expected ${brand} to be a UUID other than the nil UUID ${NIL_UUID}`
      })
    ),
    canonical,
    { strict: true, decode: (text) => text.toLowerCase(), encode: (text) => text }
  ).annotations({ identifier: brand })
  return Object.assign(schema, {
    /** The id of a UUID string known to be valid, in canonical form; throws otherwise. */
    make: (text: string): typeof canonical.Type =>
      canonical.make(text.toLowerCase() as Parameters<typeof canonical.make>[0])
  })
}

/** A job's logical identity, stable across retries (R6c). */
export const JobId = id("JobId")
export type JobId = typeof JobId.Type

/** Correlates a job with its Flight Recorder events (R5). */
export const TraceId = id("TraceId")
export type TraceId = typeof TraceId.Type

/** One execution attempt of a job (R6c). */
export const WorkflowRunId = id("WorkflowRunId")
export type WorkflowRunId = typeof WorkflowRunId.Type

/** One node execution inside a workflow run (HSK-WF-001). */
export const NodeExecutionId = id("NodeExecutionId")
export type NodeExecutionId = typeof NodeExecutionId.Type

/** A Flight Recorder event. */
export const EventId = id("EventId")
export type EventId = typeof EventId.Type
