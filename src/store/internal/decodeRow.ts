/**
 * Strict decoding of database rows: a row that does not match its schema
 * becomes a `CorruptRow` naming the table, the row id and the column. Never a
 * crash, never a silent fix.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { formatIssues } from "../../domain/Errors.js"
import type { EventRecord } from "../../domain/EventRecord.js"
import { CorruptRow } from "../StoreErrors.js"
import { envelopeDisagreement } from "./eventEnvelope.js"

/** The `CorruptRow` for a row of `table` (identified by its `idColumn`) that failed its schema with `error`. */
const corruptRow = (table: string, idColumn: string, row: unknown, error: ParseResult.ParseError): CorruptRow => {
  const issues = formatIssues(error)
  const record = (typeof row === "object" && row !== null ? row : {}) as Record<string, unknown>
  return new CorruptRow({
    table,
    row_id: String(record[idColumn] ?? "(unknown)"),
    column: issues[0]?.path.split(".")[0] || "(row)",
    issues
  })
}

/** Builds a decoder for rows of `table`, identified by their `idColumn`. */
export const rowDecoder = <A, I>(schema: Schema.Schema<A, I>, table: string, idColumn = "id") => {
  const decode = Schema.decodeUnknown(schema, { errors: "all", onExcessProperty: "ignore" })
  return (row: unknown): Effect.Effect<A, CorruptRow> =>
    Effect.mapError(decode(row), (error: ParseResult.ParseError) => corruptRow(table, idColumn, row, error))
}

/** `rowDecoder`, synchronous: the value, or throws the `CorruptRow` (for a synchronous step, sqlite/step.ts). */
export const rowDecoderNow = <A, I>(schema: Schema.Schema<A, I>, table: string, idColumn = "id") => {
  const decode = Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "ignore" })
  return (row: unknown): A => {
    const decoded = decode(row)
    if (Either.isLeft(decoded)) throw corruptRow(table, idColumn, row, decoded.left)
    return decoded.right
  }
}

/** Decodes every row, failing on the first corrupt one. */
export const decodeRows = <A>(decode: (row: unknown) => Effect.Effect<A, CorruptRow>) =>
(rows: ReadonlyArray<unknown>): Effect.Effect<ReadonlyArray<A>, CorruptRow> => Effect.forEach(rows, decode)

/**
 * An event row decoded, then its body's envelope held to its columns
 * (eventEnvelope.ts): a row that contradicts itself is `CorruptRow`.
 */
const eventRowDecoder = <E extends EventRecord, EI>(schema: Schema.Schema<E, EI>) => {
  const decode = rowDecoder(schema, "flight_recorder_events", "event_id")
  return (row: unknown): Effect.Effect<E, CorruptRow> =>
    Effect.flatMap(decode(row), (record) => {
      const disagreement = envelopeDisagreement(record)
      return disagreement === undefined ? Effect.succeed(record) : Effect.fail(disagreement)
    })
}

/**
 * A store's decode table: one strict decoder per table, from its dialect's
 * row schemas (the tables, and the column that names a row, are the same on
 * both stores; how a column is stored — JSON text or jsonb — is not).
 */
export const rowDecoders = <J, JI, R, RI, S, SI, N, NI, NS, NSI, E extends EventRecord, EI>(rows: {
  readonly job: Schema.Schema<J, JI>
  readonly run: Schema.Schema<R, RI>
  readonly stalledRun: Schema.Schema<S, SI>
  readonly node: Schema.Schema<N, NI>
  readonly nodeSummary: Schema.Schema<NS, NSI>
  readonly event: Schema.Schema<E, EI>
}) => ({
  job: rowDecoder(rows.job, "ai_jobs"),
  run: rowDecoder(rows.run, "workflow_runs"),
  stalledRun: rowDecoder(rows.stalledRun, "workflow_runs"),
  node: rowDecoder(rows.node, "workflow_node_executions"),
  nodeSummary: rowDecoder(rows.nodeSummary, "workflow_node_executions"),
  event: eventRowDecoder(rows.event)
})
