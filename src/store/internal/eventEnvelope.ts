/**
 * An event row holds its envelope twice: as the columns a listing filters and
 * orders by, and inside the body it is shown from. The database ties nothing
 * between them, so a row the library did not write (a raw INSERT copying
 * another job's body) was listed under its columns' job and time but read as
 * the body's: an event claiming another job, its id twice in the log. A row
 * that disagrees with itself is corrupt.
 *
 * Only what both hold is compared, as the domain reads it: a body without a
 * field (a legacy shape) is not judged on it; ids case-insensitively (legacy
 * bodies keep the case they were recorded in, their columns are lower case,
 * migration 0004); timestamps as instants at the millisecond (a body's text
 * may hold more digits, a PostgreSQL column microseconds, both read cut to
 * the millisecond). A body field that is not there in a form the body's own
 * decode accepts is left to that decode (FlightRecorder.list's `CorruptRow`).
 * The port refuses such a record at the write (portInput.ts), so a row like
 * that got there behind it (raw SQL, an older release).
 */
import * as DateTime from "effect/DateTime"
import type { EventRecord } from "../../domain/EventRecord.js"
import { isRfc3339, millisecondText } from "../../domain/Timestamp.js"
import { CorruptRow } from "../StoreErrors.js"

/** The id columns, each also a body field of the same name. */
const ID_COLUMNS = ["event_id", "trace_id", "job_id", "workflow_run_id"] as const

/** The text columns compared exactly. */
const TEXT_COLUMNS = ["type", "actor"] as const

const shown = (value: unknown): string => value === null ? "null" : JSON.stringify(value) ?? String(value)

/** One envelope field the body and the record hold differently. */
export interface EnvelopeDisagreement {
  readonly column: string
  readonly body: unknown
  readonly held: unknown
}

/**
 * Every envelope field whose value in `record`'s body disagrees with the
 * record's own, in column order; undefined when they agree. A few
 * comparisons, no allocation when they agree.
 */
export const envelopeDisagreements = (record: EventRecord): ReadonlyArray<EnvelopeDisagreement> | undefined => {
  const body = record.body as Readonly<Record<string, unknown>>
  let found: Array<EnvelopeDisagreement> | undefined
  const disagree = (column: string, value: unknown, held: unknown) => {
    found ??= []
    found.push({ column, body: value, held })
  }
  for (const column of ID_COLUMNS) {
    const value = body[column]
    if (value === undefined) continue
    const held = record[column]
    if (value === null ? held !== null : typeof value !== "string" || value.toLowerCase() !== held) disagree(column, value, held)
  }
  for (const column of TEXT_COLUMNS) {
    const value = body[column]
    if (value !== undefined && value !== record[column]) disagree(column, value, record[column])
  }
  const timestamp = body.timestamp
  if (typeof timestamp === "string" && isRfc3339(timestamp)) {
    const ms = Date.parse(millisecondText(timestamp))
    const held = DateTime.toEpochMillis(record.timestamp)
    if (!Number.isNaN(ms) && ms !== held) disagree("timestamp", timestamp, DateTime.formatIso(record.timestamp))
  }
  return found
}

/** Says what `disagreement` is, the record's side named `held` ("the job_id column", "the record's job_id"). */
export const disagreementMessage = ({ body, column, held }: EnvelopeDisagreement, heldBy: string): string =>
  `the body's ${column} is ${shown(body)}, ${heldBy} ${shown(held)}`

/**
 * The `CorruptRow` for an event row whose body's envelope disagrees with its
 * columns, naming the first column that disagrees (every one in `issues`);
 * undefined when they agree.
 */
export const envelopeDisagreement = (record: EventRecord): CorruptRow | undefined => {
  const found = envelopeDisagreements(record)
  return found === undefined ? undefined : new CorruptRow({
    table: "flight_recorder_events",
    row_id: record.event_id,
    column: found[0]!.column,
    issues: found.map((d) => ({ path: d.column, message: disagreementMessage(d, `the ${d.column} column holds`) }))
  })
}
