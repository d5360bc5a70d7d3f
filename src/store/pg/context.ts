/**
 * The PostgreSQL store context every group of methods is built from: the
 * client, the transactions, and the one way a change is written with its
 * audit records (`audited`) — the same shape as sqlite/context.ts.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import * as Effect from "effect/Effect"
import type { ParseError } from "effect/ParseResult"
import type { DecodeFailure } from "../../domain/Errors.js"
import type { EventRecord } from "../../domain/EventRecord.js"
import { auditRecords, recordsGiven } from "../internal/audit.js"
import { firstStoredOrRepeated, takenInBatch } from "../internal/firstTaken.js"
import { flatMapKnown } from "../../util/knownEffects.js"
import { type Execute, makeExecute, type OutsideTransaction, runWith } from "../internal/execute.js"
import type { Audit } from "../JobStore.js"
import type { AlreadyExists } from "../StoreErrors.js"
import type { HeldConnections } from "./heldConnections.js"
import { columns, eventsText } from "./rows.js"
import { insideTransaction, inTransaction, joinOrBegin } from "./transaction.js"

/**
 * Writes event records in one multi-row INSERT, all or nothing: a taken event
 * id (stored already, or given twice) fails it with `AlreadyExists` naming it.
 */
export type InsertEvents = (
  events: ReadonlyArray<EventRecord>
) => Effect.Effect<void, AlreadyExists | SqlError | ParseError>

/** One step of a change: a named common table expression (`name AS (statement)`). */
export type Step = readonly [name: string, statement: Statement.Fragment]

/**
 * A change and its audit (see `audited`): its steps, the last one RETURNING
 * the changed row — none when the change did not apply (a guard missed) —
 * which `result` turns into the change's result.
 */
export interface Change<A, E, R> {
  readonly steps: ReadonlyArray<Step>
  readonly events: Audit<A> | undefined
  /** The change's result when it is known before it is written (a new job, a new run): its records are too. */
  readonly known?: A
  readonly result: (row: unknown) => Effect.Effect<A, E, R>
}

/** The pieces each group of store methods is built from. */
export interface PgContext {
  readonly sql: SqlClient.SqlClient
  /** Runs a statement's text on the client's connection, untraced (internal/execute.ts). */
  readonly execute: Execute
  /** Runs a statement built with `sql` as `execute` does: the hot paths' way. */
  readonly run: <Row>(statement: Statement.Statement<Row>) => Effect.Effect<ReadonlyArray<Row>, SqlError>
  /**
   * `run` for a caller that knows it is outside any transaction (it checked
   * once, e.g. group commit's `outsideTransactions`): no second look.
   */
  readonly runOutside: <Row>(statement: Statement.Statement<Row>) => Effect.Effect<ReadonlyArray<Row>, SqlError>
  /**
   * For a caller that knows it is outside any transaction (as `runOutside`):
   * runs the statement and continues with `then` on its rows. On the store's
   * held connections `then` runs in the statement's own callback, so the
   * step's outcome is one Effect operation away (issue 16); `then` must not
   * throw (a throw is a defect). No uninterruptible region of its own: group
   * commit's line holds one around every call.
   */
  readonly thenOutside: <Row, A, E>(
    statement: Statement.Statement<Row>,
    then: (rows: ReadonlyArray<Row>) => Effect.Effect<A, E>
  ) => Effect.Effect<A, E | SqlError>
  /**
   * A text and its parameters already compiled (fixedStatement.ts) run as
   * `execute` runs them (inside a transaction, on its connection), then `then` on its rows.
   */
  readonly textThen: <Row, A, E>(
    text: string,
    params: ReadonlyArray<unknown>,
    then: (rows: ReadonlyArray<Row>) => Effect.Effect<A, E>
  ) => Effect.Effect<A, E | SqlError>
  /** `thenOutside` for a text and its parameters already compiled (fixedStatement.ts). */
  readonly textThenOutside: <Row, A, E>(
    text: string,
    params: ReadonlyArray<unknown>,
    then: (rows: ReadonlyArray<Row>) => Effect.Effect<A, E>
  ) => Effect.Effect<A, E | SqlError>
  /** One transaction (a savepoint when nested); a dead connection is a typed `SqlError`. */
  readonly transaction: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | SqlError, R>
  /** A method's own transaction when none is open; inside the caller's, it joins it (no savepoint). */
  readonly atomic: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | SqlError, R>
  readonly insertEvents: InsertEvents
  /**
   * A statement writing `events` (without ON CONFLICT) fails with
   * `AlreadyExists` naming the taken event id, instead of the unique violation.
   */
  readonly namingTakenEvent: (
    events: ReadonlyArray<EventRecord>
  ) => <A, E, R>(statement: Effect.Effect<A, E | SqlError, R>) => Effect.Effect<A, E | SqlError | AlreadyExists, R>
  /**
   * Writes a change with its audit records; undefined when the change did
   * not apply (and nothing was written). Records given up front go in the
   * change's own statement, written only if it changed a row: one round
   * trip, atomic without a transaction. Records that are a function of the
   * result follow in a second statement, in one transaction with the change.
   * A taken event id fails with `AlreadyExists` naming it, and nothing is written.
   */
  readonly audited: <A, E, R>(
    change: Change<A, E, R>
  ) => Effect.Effect<A | undefined, E | AlreadyExists | DecodeFailure | SqlError | ParseError, R>
  /**
   * `audited` for a change of one step whose text never varies (`template`,
   * a `sql` template's pieces) and whose result is known before it is
   * written: the statement `audited` would build, compiled once here, so a
   * call only binds its parameters (createJob's hot path, issue 16).
   */
  readonly auditedFixed: (name: string, template: TemplateStringsArray) => FixedChange
}

/**
 * Runs a change `auditedFixed` compiled with the step's parameters and the
 * known result's records, and continues with `then` on the changed row
 * (undefined when the step changed none, and nothing was written).
 */
export type FixedWrite = <A, B, E>(
  params: ReadonlyArray<unknown>,
  events: Audit<A> | undefined,
  known: A,
  then: (row: unknown) => Effect.Effect<B, E>
) => Effect.Effect<B, E | AlreadyExists | DecodeFailure | SqlError>

/**
 * A change `auditedFixed` compiled: `write` runs it on the client's
 * connection (the transaction's inside one); `writeOutside` is `write` for a
 * caller that knows it is outside any transaction (as `thenOutside`: on the
 * store's held connections `then` runs in the statement's own callback). `texts`
 * are its two statements, without records and with them.
 */
export interface FixedChange {
  readonly write: FixedWrite
  readonly writeOutside: FixedWrite
  readonly texts: { readonly alone: string; readonly audited: string }
}

/** A unique violation (SQLSTATE 23505): a taken key (an event's id, a run's) in a statement without ON CONFLICT. */
export const isUniqueViolation = (error: unknown): error is SqlError =>
  error instanceof SqlError && (error.cause as { readonly code?: unknown } | undefined)?.code === "23505"

/** `INSERT … SELECT` of the records, from one jsonb parameter: a WHERE or ON CONFLICT may follow. */
export const eventsInsertStatement = (sql: SqlClient.SqlClient, events: ReadonlyArray<EventRecord>) => {
  const eventColumns = sql.literal(columns.event)
  return sql`
      INSERT INTO flight_recorder_events (${eventColumns})
      SELECT ${eventColumns}
      FROM jsonb_to_recordset(${eventsText(events)}::jsonb) AS e(
        event_id uuid, "timestamp" timestamptz, actor text, type text,
        trace_id uuid, job_id uuid, workflow_run_id uuid, body jsonb)`
}

/** The context on `sql`; with `held`, statements outside a transaction run on its connections (pg/heldConnections.ts). */
export const makeContext = (sql: SqlClient.SqlClient, held?: Pick<HeldConnections, "execute" | "query">): PgContext => {
  const outside: OutsideTransaction | undefined = held?.execute
  const execute = makeExecute(sql, outside)
  const executeOutside: Execute = outside === undefined
    ? makeExecute(sql)
    : <Row>(text: string, params: ReadonlyArray<unknown>) => outside(text, params) as Effect.Effect<ReadonlyArray<Row>, SqlError>
  const runOutside = runWith(executeOutside)
  /**
   * A text and its parameters run outside any transaction, continued with
   * `then` on its rows, or `otherwise` on its failure (default: that failure):
   * on the held connections, in the statement's own callback.
   */
  const textThenOutside = <Row, A, E, E2 = never>(
    text: string,
    params: ReadonlyArray<unknown>,
    then: (rows: ReadonlyArray<Row>) => Effect.Effect<A, E>,
    otherwise: (error: SqlError) => Effect.Effect<A, E2 | SqlError> = Effect.fail
  ): Effect.Effect<A, E | E2 | SqlError> =>
    held === undefined
      ? Effect.matchEffect(executeOutside<Row>(text, params), { onFailure: otherwise, onSuccess: then })
      : Effect.async<A, E | E2 | SqlError>((resume) => {
        held.query(text, params, (error, rows) => {
          let next: Effect.Effect<A, E | E2 | SqlError>
          try {
            next = error !== undefined ? otherwise(error) : then(rows as ReadonlyArray<Row>)
          } catch (defect) {
            next = Effect.die(defect)
          }
          resume(next)
        })
      })
  // `textThenOutside` serves both cases: without held connections it is the statement, then `then`.
  const thenOutside: PgContext["thenOutside"] = (statement, then) => {
    const [text, params] = statement.compile()
    return textThenOutside(text, params, then)
  }
  const run = runWith(execute)
  const textThen: PgContext["textThen"] = <Row, A, E>(
    text: string,
    params: ReadonlyArray<unknown>,
    then: (rows: ReadonlyArray<Row>) => Effect.Effect<A, E>
  ) => Effect.flatMap(execute<Row>(text, params), then)
  const eventsInsert = (events: ReadonlyArray<EventRecord>) => eventsInsertStatement(sql, events)

  /**
   * Which of `events` made a statement fail with a unique violation: the one
   * whose id the server's detail names (our own id found in it, whatever the
   * message's language), else — outside a transaction, where a lookup can
   * run — one given twice or already stored. Undefined when none is: the
   * violation was another constraint's (or the server hid the key).
   */
  const takenEventId = (events: ReadonlyArray<EventRecord>, violation: SqlError) =>
    Effect.gen(function*() {
      const detail = (violation.cause as { readonly detail?: unknown } | undefined)?.detail
      const named = typeof detail === "string" ? events.find(({ event_id }) => detail.includes(event_id)) : undefined
      if (named !== undefined) return named.event_id
      // Inside a transaction the failed statement aborted it, and a lookup would need a second connection.
      if (yield* insideTransaction) return undefined
      const ids = events.map((event) => event.event_id)
      const rows = yield* sql<{ readonly event_id: string }>`
        SELECT event_id FROM flight_recorder_events WHERE ${sql.in("event_id", [...new Set(ids)])}`
      return firstStoredOrRepeated(ids, new Set(rows.map((row) => row.event_id)))
    }).pipe(Effect.orElseSucceed(() => undefined))

  /** A statement writing `events` fails with `AlreadyExists` naming the taken id, instead of the unique violation. */
  const namingTakenEvent = (events: ReadonlyArray<EventRecord>) =>
  <A, E, R>(statement: Effect.Effect<A, E | SqlError, R>): Effect.Effect<A, E | SqlError | AlreadyExists, R> =>
    Effect.catchIf(statement, isUniqueViolation, takenEventNamed(events))
  /** A unique violation of a statement writing `events` as `AlreadyExists` naming the taken id, when one is found. */
  const takenEventNamed = (events: ReadonlyArray<EventRecord>) => (violation: SqlError) =>
    Effect.flatMap(takenEventId(events, violation), (id): Effect.Effect<never, SqlError | AlreadyExists> =>
      id === undefined ? Effect.fail(violation) : Effect.fail(takenInBatch("event", id, events.map((event) => event.event_id))))
  /** A statement's failure as `namingTakenEvent` reports it, for a statement whose failure is handled in its callback. */
  const failureNaming = (events: ReadonlyArray<EventRecord>) => (error: SqlError) =>
    isUniqueViolation(error) ? takenEventNamed(events)(error) : Effect.fail(error)

  // No ON CONFLICT: a taken event id fails the whole statement, so nothing of it is written
  // (a transaction it is in is then aborted, and must roll back).
  const insertEvents: InsertEvents = (events) =>
    events.length === 0
      ? Effect.void
      : Effect.asVoid(namingTakenEvent(events)(run(eventsInsert(events))))

  const atomic = joinOrBegin(sql)

  /** The one statement of a change: its steps, then its audit, as common table expressions. */
  const changeStatement = (steps: ReadonlyArray<Step>, audit: ReadonlyArray<Statement.Fragment>) =>
    sql`WITH ${sql.csv([...steps.map(([name, step]) => sql`${sql(name)} AS (${step})`), ...audit])} SELECT * FROM ${
      sql(steps[steps.length - 1]?.[0] ?? "changed")
    }`
  /** The audit step writing `records` once the change is known to have changed a row. */
  const auditStep = (changed: string, records: ReadonlyArray<EventRecord>) =>
    sql`audit AS (${eventsInsert(records)} WHERE EXISTS (SELECT 1 FROM ${sql(changed)}))`

  const audited: PgContext["audited"] = <A, E, R>({ events, known, result, steps }: Change<A, E, R>) => {
    const changed = steps[steps.length - 1]?.[0] ?? "changed"
    const statement = (audit: ReadonlyArray<Statement.Fragment>) => run(changeStatement(steps, audit))
    const given = known !== undefined ? auditRecords(events, known) : recordsGiven(events)
    if (given === undefined) {
      return atomic(Effect.gen(function*() {
        const [row] = yield* statement([])
        if (row === undefined) return undefined
        const value = yield* result(row)
        yield* insertEvents(yield* auditRecords(events, value))
        return value
      }))
    }
    return Effect.flatMap(given, (records) => {
      const audit = records.length === 0 ? [] : [auditStep(changed, records)]
      return Effect.flatMap(
        namingTakenEvent(records)(statement(audit)),
        ([row]): Effect.Effect<A | undefined, E, R> => row === undefined ? Effect.succeed(undefined) : result(row)
      )
    })
  }

  const auditedFixed: PgContext["auditedFixed"] = (name, template) => {
    // Compiled with stand-in values: every value is a parameter (`$n`), so the text is every call's.
    // The records' one jsonb parameter comes last, after the step's.
    const step: Step = [name, sql(template, ...template.slice(1).map(() => null))]
    const texts = {
      alone: changeStatement([step], []).compile()[0],
      audited: changeStatement([step], [auditStep(name, [])]).compile()[0]
    }
    // The records are usually known (vouched ones): the statement follows without an Effect step between.
    const write: FixedWrite = (params, events, known, then) =>
      flatMapKnown(auditRecords(events, known), (records) =>
        records.length === 0
          ? Effect.flatMap(execute(texts.alone, params), ([row]) => then(row))
          : Effect.flatMap(namingTakenEvent(records)(execute(texts.audited, [...params, eventsText(records)])), ([row]) => then(row)))
    // The same statements, the row and any failure handled in the statement's own callback.
    const writeOutside: FixedWrite = (params, events, known, then) =>
      flatMapKnown(auditRecords(events, known), (records) =>
        records.length === 0
          ? textThenOutside(texts.alone, params, ([row]) => then(row))
          : textThenOutside(texts.audited, [...params, eventsText(records)], ([row]) => then(row), failureNaming(records)))
    return { write, writeOutside, texts }
  }

  return {
    sql,
    execute,
    run,
    runOutside,
    thenOutside,
    textThen,
    textThenOutside,
    transaction: inTransaction(sql),
    atomic,
    insertEvents,
    namingTakenEvent,
    audited,
    auditedFixed
  }
}
