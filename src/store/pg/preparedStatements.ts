/**
 * Named prepared statements on PostgreSQL (issue 16), below @effect/sql:
 * @effect/sql-pg sends every statement unnamed, so the server parses and
 * plans it on every call — about a third of a lifecycle's server time. The
 * store's pool is built with `preparingClient`, a `pg.Client` whose
 * parameterised statements are sent as named ones, like postgres.js's
 * `prepare: true`:
 *
 * - the name is a hash of the text, so one name always means one text,
 *   whichever server connection (or pooler) answers;
 * - each connection keeps at most `perConnection` of them, least recently
 *   used closed first (a protocol Close, which works even in an aborted
 *   transaction and which PgBouncer ≥ 1.21 tracks), so texts that vary
 *   (IN lists, batch sizes) cannot grow the server's memory without bound;
 * - a statement the server no longer accepts — "cached plan must not change
 *   result type" after another process's DDL, or one dropped under us
 *   (DISCARD ALL) — makes every connection of the pool drop what it prepared;
 *   run outside a transaction the statement is then prepared again and run
 *   once more (it failed before running); inside one the error stands, the
 *   transaction is aborted, and the store runs it again whole (`isTransient`
 *   in transaction.ts).
 *
 * Statements without parameters (BEGIN, COMMIT, multi-statement texts) and
 * anything that is not a plain text-and-values query (cursors) go through
 * `pg` unchanged.
 *
 * A statement's plan is made again as the tables grow: each name is closed
 * and prepared afresh at its 100th, 200th, 400th, 800th… execution on a
 * connection (`replansAt`). The server keeps a prepared statement's generic
 * plan until an ANALYZE or a schema change invalidates it; one made while a
 * new database's tables held a few pages (scans were then the cheap way) was
 * kept as they grew, until autovacuum's first visit — for good where
 * autovacuum is off. Each refresh costs a Parse and six plannings, and there
 * are about log2(n) of them in n executions.
 *
 * Each execution's Describe is asked once per statement and connection
 * (`RowShape`): pg otherwise has the server describe the result on every
 * execution and rebuilds every column's parser from the answer (~60 µs for a
 * job row's 25 columns). The server guarantees a named statement's result
 * shape: a schema change that would alter it fails the statement at Bind
 * with 0A000 (PostgreSQL's `fixed_result` for protocol-level statements),
 * which drops every shape the pool learnt along with its statements; a
 * statement closed, evicted or failed loses its shape too.
 */
import { createHash } from "node:crypto"
import * as Pg from "pg"

/** Default bound of named statements per connection (PgBouncer's `max_prepared_statements` default is 200 per server connection). */
export const DEFAULT_MAX_PREPARED_STATEMENTS = 100

/** The `pg` internals a named statement touches: the statements its connection has parsed. */
interface ProtocolConnection {
  readonly parsedStatements: Record<string, string | undefined>
  readonly stream: { cork?: () => void; uncork?: () => void }
  close(message: { readonly type: "S"; readonly name: string }): void
  describe(message: unknown): void
}

/** The `pg.Result` internals `Result.addFields` fills from a RowDescription. */
interface ResultFields {
  fields: ReadonlyArray<unknown>
  _parsers: ReadonlyArray<unknown> | undefined
  _prebuiltEmptyResultObject: object | null
}

/** The `pg.Query` internals a result's fields reach. */
interface QueryResult {
  readonly _result: ResultFields
  _accumulateRows: boolean
}

/**
 * What one Describe of a named statement gave, as `Result.addFields` built it:
 * the fields (none for a statement without rows), their parsers (from the
 * client's type parsers, one set per client) and the empty row. Read-only once learnt.
 */
interface RowShape {
  readonly fields: ReadonlyArray<unknown>
  readonly parsers: ReadonlyArray<unknown> | undefined
  readonly empty: object | null
}

const learnt = (result: ResultFields): RowShape => ({
  fields: result.fields,
  parsers: result._parsers,
  empty: result._prebuiltEmptyResultObject
})

/** Gives `query`'s result the fields a Describe would, as `Query.handleRowDescription` does (a query with a callback keeps its rows). */
const describedAs = (query: QueryResult, shape: RowShape): void => {
  if (shape.fields.length === 0) return
  const result = query._result
  result.fields = shape.fields
  result._parsers = shape.parsers
  result._prebuiltEmptyResultObject = shape.empty
  query._accumulateRows = true
}

/** Options of `preparingClient`. */
export interface PreparingOptions {
  /** Describe each named statement once per connection (default true); false describes every execution, as pg does. */
  readonly describeOnce?: boolean
}

type Callback = (error: Error | null, result?: unknown) => void

/** A text-and-values query with at least one value: what is sent named. */
interface Parameterised {
  readonly text: string
  readonly values: ReadonlyArray<unknown>
  readonly rowMode?: "array"
  readonly callback: Callback | undefined
}

const CONFIG_KEYS = new Set(["text", "values", "rowMode"])

/** The query as `Client.query`'s arguments give it, when it is one to send named. */
const parameterised = (config: unknown, values: unknown, callback: unknown): Parameterised | undefined => {
  const done = (typeof values === "function" ? values : typeof callback === "function" ? callback : undefined) as Callback | undefined
  if (typeof config === "string") {
    return Array.isArray(values) && values.length > 0 ? { text: config, values, callback: done } : undefined
  }
  if (typeof config !== "object" || config === null || !Object.keys(config).every((key) => CONFIG_KEYS.has(key))) return undefined
  const { rowMode, text, values: given } = config as { text?: unknown; values?: unknown; rowMode?: unknown }
  const bound = given ?? (Array.isArray(values) ? values : undefined)
  if (typeof text !== "string" || !Array.isArray(bound) || bound.length === 0) return undefined
  if (rowMode !== undefined && rowMode !== "array") return undefined
  return { text, values: bound, ...(rowMode === "array" ? { rowMode } : {}), callback: done }
}

/** The first execution count at which a statement is prepared again; then at twice as many, and so on. */
export const FIRST_REPLAN = 100

/** Whether a statement run `done` times on a connection is prepared again before its next run: 100, 200, 400… */
export const replansAt = (done: number): boolean => {
  if (done < FIRST_REPLAN || done % FIRST_REPLAN !== 0) return false
  const doublings = done / FIRST_REPLAN
  return (doublings & (doublings - 1)) === 0
}

const names = new Map<string, string>()
const NAMES_KEPT = 1024

/** The statement's name: a hash of its text (remembered for the texts seen lately: hashing costs ~5 µs). */
export const statementName = (text: string): string => {
  const known = names.get(text)
  if (known !== undefined) return known
  if (names.size >= NAMES_KEPT) names.clear()
  const name = `hsk_${createHash("sha1").update(text).digest("hex")}`
  names.set(text, name)
  return name
}

/**
 * Whether `error` is the server refusing a named statement it holds for us:
 * its cached plan would now return other columns (0A000 from
 * RevalidateCachedQuery, after an ALTER TABLE), or it is gone (26000). Both
 * fail at Bind, before the statement runs.
 */
export const isStalePreparedStatement = (error: unknown): boolean => {
  if (typeof error !== "object" || error === null) return false
  const { code, routine } = error as { readonly code?: unknown; readonly routine?: unknown }
  return (code === "0A000" && routine === "RevalidateCachedQuery") || code === "26000" || isSharedServerSession(error)
}

/**
 * Whether `error` says the server session is not this connection's alone: a
 * name this connection was preparing exists there already (42P05), which
 * only another client's Parse can have done — a transaction-mode pooler
 * (PgBouncer before 1.21, or without `max_prepared_statements`) giving each
 * transaction whichever server connection is free. It fails at Parse,
 * before the statement runs.
 */
export const isSharedServerSession = (error: unknown): boolean =>
  typeof error === "object" && error !== null && (error as { readonly code?: unknown }).code === "42P05"

/**
 * The `pg.Client` class for a pool whose connections send parameterised
 * statements named, each keeping at most `perConnection`. One class per
 * pool: its connections share the "drop everything" signal.
 */
export const preparingClient = (perConnection: number, options: PreparingOptions = {}): typeof Pg.Client => {
  // `unnamed`: the server sessions turned out to be shared (`isSharedServerSession`), where a
  // name cannot be kept; from then on every connection of the pool sends its statements unnamed.
  const pool = { generation: 0, unnamed: false }
  const describeOnce = options.describeOnce !== false

  return class PreparingClient extends Pg.Client {
    /** Names prepared on this connection, least recently used first, each with its runs since it was prepared. */
    readonly #prepared = new Map<string, number>()
    /** Names to close before the next named statement is sent. */
    #toClose: Array<string> = []
    #generation = pool.generation
    /** The row shape of each name this connection holds, once described. */
    readonly #shapes = new Map<string, RowShape>()
    /** Set while a statement whose shape is known is written: its Describe is not sent. */
    #skipDescribe = false
    #describeWrapped = false

    /** Every name this connection holds is closed before its next named statement. */
    #dropAll(connection: ProtocolConnection) {
      for (const name of this.#prepared.keys()) {
        this.#toClose.push(name)
        delete connection.parsedStatements[name]
      }
      this.#prepared.clear()
      this.#shapes.clear()
    }

    /** The connection's Describe, skipped while `#skipDescribe` (an own property set once: the connection's shape stays stable). */
    #wrapDescribe(connection: ProtocolConnection) {
      if (this.#describeWrapped) return
      this.#describeWrapped = true
      const describe = connection.describe.bind(connection)
      connection.describe = (message) => {
        if (!this.#skipDescribe) describe(message)
      }
    }

    /** Called as a named statement is written: keep the bound, and close first what leaves. */
    #use(connection: ProtocolConnection, name: string) {
      if (this.#generation !== pool.generation) {
        this.#generation = pool.generation
        this.#dropAll(connection)
      }
      const done = this.#prepared.get(name) ?? 0
      this.#prepared.delete(name)
      // Prepared again (closed first, below): its plan made for the tables as they are now.
      if (replansAt(done)) {
        this.#toClose.push(name)
        this.#shapes.delete(name)
      }
      this.#prepared.set(name, done + 1)
      for (const oldest of this.#prepared.keys()) {
        if (this.#prepared.size <= perConnection) break
        this.#prepared.delete(oldest)
        this.#shapes.delete(oldest)
        this.#toClose.push(oldest)
      }
      for (const closing of this.#toClose) {
        connection.close({ type: "S", name: closing })
        delete connection.parsedStatements[closing]
      }
      this.#toClose = []
    }

    #send(query: Parameterised, name: string, retried: boolean, done: Callback) {
      // eslint-disable-next-line @typescript-eslint/no-this-alias
      const client = this
      let outsideTransaction = false
      let described = false
      const settle = (error: Error | undefined, result: unknown) => {
        if (error === undefined || error === null) {
          if (described) client.#shapes.set(name, learnt((named as unknown as QueryResult)._result))
          return done(null, result)
        }
        client.#shapes.delete(name)
        if (!isStalePreparedStatement(error)) return done(error, result)
        // Every connection of the pool may hold plans of the changed table: each drops
        // what it prepared before its next named statement (this one's retry included).
        pool.generation++
        if (isSharedServerSession(error)) {
          pool.unnamed = true
          // Nothing ran; inside a transaction the error stands and the whole transaction runs again (transaction.ts).
          if (outsideTransaction) return client.#sendUnnamed(query, done)
          return done(error)
        }
        if (outsideTransaction && !retried) return client.#send(query, name, true, done)
        done(error)
      }
      // From a text and its values pg builds its own config; a config object it copies
      // through its property descriptors (~7 µs a statement). The name is set after.
      const named: Pg.Query & { name?: string } = query.rowMode === undefined
        ? new Pg.Query(query.text, query.values as Array<unknown>, settle)
        : new Pg.Query({ text: query.text, values: query.values as Array<unknown>, rowMode: query.rowMode } as Pg.QueryConfig, settle)
      named.name = name
      const submit = named.submit.bind(named)
      named.submit = (connection) => {
        const protocol = connection as unknown as ProtocolConnection
        outsideTransaction = client.getTransactionStatus() === "I"
        protocol.stream.cork?.()
        try {
          client.#use(protocol, name)
          if (!describeOnce) return submit(connection)
          client.#wrapDescribe(protocol)
          const shape = client.#shapes.get(name)
          if (shape === undefined || protocol.parsedStatements[name] !== query.text) {
            described = true
            return submit(connection)
          }
          describedAs(named as unknown as QueryResult, shape)
          client.#skipDescribe = true
          try {
            return submit(connection)
          } finally {
            client.#skipDescribe = false
          }
        } finally {
          protocol.stream.uncork?.()
        }
      }
      super.query(named)
    }

    /** `query` as pg sends it: unnamed, parsed and planned by the server on every call. */
    #sendUnnamed(query: Parameterised, done: Callback) {
      const config = { text: query.text, values: query.values as Array<unknown>, ...(query.rowMode === undefined ? {} : { rowMode: query.rowMode }) }
      super.query(config as Pg.QueryConfig, done as never)
    }

    override query(...args: Array<unknown>): never {
      const [config, values, callback] = args
      const untouched = super.query as (...args: Array<unknown>) => never
      if (pool.unnamed) return untouched.apply(this, args)
      const query = parameterised(config, values, callback)
      if (query === undefined) return untouched.apply(this, args)
      const name = statementName(query.text)
      if (query.callback !== undefined) {
        this.#send(query, name, false, query.callback)
        return undefined as never
      }
      return new Promise((resolve, reject) =>
        this.#send(query, name, false, (error, result) => error === null ? resolve(result) : reject(error))
      ) as never
    }
  }
}
