/**
 * Issue 16: the PostgreSQL store's named statements are described once per
 * connection (src/store/pg/preparedStatements.ts): pg otherwise asks the
 * server to Describe every execution and rebuilds each column's parser from
 * the answer. Proved on a real server: later executions send no Describe;
 * every statement the store runs answers the same rows (names, order, types,
 * nulls, parsed JSON, timestamps) with the shape reused as with a Describe on
 * every execution; and a schema change that alters a statement's result —
 * made on the same connection, as migrations run in the same process, or
 * inside a transaction that is rolled back — is never answered with the
 * old shape.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Pg from "pg"
import { afterEach, beforeEach } from "vitest"
import * as Jobs from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { preparingClient } from "../../src/store/pg/preparedStatements.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { summarize } from "../jobs/jobs.suite.js"
import { services } from "../jobs/services.js"
import { endPoolClosed, freshPgDatabase } from "../support/pg-database.js"
import { staleBefore } from "./fixtures.js"

/** The statement names of every Describe this process sends. */
const describes: Array<string> = []
/** Every named statement's answer, in order: its text, its fields and its rows. */
const answers: Array<{ readonly text: string; readonly fields: ReadonlyArray<string>; readonly rows: ReadonlyArray<unknown> }> = []
const originalDescribe = Pg.Connection.prototype.describe
const originalQuery = Pg.Client.prototype.query
beforeEach(() => {
  describes.length = 0
  answers.length = 0
  Pg.Connection.prototype.describe = function(this: Pg.Connection, message: { readonly name?: string | undefined }) {
    describes.push(message.name ?? "")
    Reflect.apply(originalDescribe, this, [message])
  }
  Pg.Client.prototype.query = function(this: Pg.Client, ...args: Array<unknown>) {
    const [query] = args
    if (query instanceof Pg.Query && typeof (query as { name?: unknown }).name === "string") {
      const named = query as Pg.Query & { callback?: (error: Error | null, result?: Pg.QueryResult) => void; text: string }
      const done = named.callback
      named.callback = (error, result) => {
        if (error === null || error === undefined) {
          answers.push({
            text: named.text,
            fields: result!.fields.map((field) => `${field.name}:${field.dataTypeID}`),
            rows: result!.rows
          })
        }
        done?.(error, result)
      }
    }
    return Reflect.apply(originalQuery, this, args)
  } as typeof Pg.Client.prototype.query
})
afterEach(() => {
  Pg.Connection.prototype.describe = originalDescribe
  Pg.Client.prototype.query = originalQuery
})

/** A one-connection pool of the store's client class; ended with the scope. */
const pool = (url: string, describeOnce: boolean) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const made = new Pg.Pool({ connectionString: url, max: 1, Client: preparingClient(100, { describeOnce }) as never })
      // The database's drop (WITH FORCE) can end a connection whose close endPoolClosed saw asked for but not
      // yet done; the pool re-emits its FATAL as its own 'error', which unhandled failed a whole run (seen once).
      made.on("error", () => {})
      return made
    }),
    endPoolClosed
  )

/** Jobs and the store over `pool`, as `PgStore.layer` builds them (JSON untouched). */
const storeOver = (pool: Pg.Pool) =>
  services(PgStore.layerFromClient().pipe(Layer.provide(PgClient.layerFromPool({ acquire: Effect.succeed(pool), transformJson: false }))))

/**
 * Each of the store's statement kinds, three times over on one connection (so
 * every statement runs again after its first, described, execution): submit,
 * claim, heartbeat, complete, fail, cancel, pin, metrics, reads, events,
 * history, batch create, recovery, nodes, release, update, pruning.
 */
const workload = Effect.gen(function*() {
  const jobs = yield* Jobs.Jobs
  const store = yield* JobStore
  for (let round = 0; round < 3; round++) {
    yield* jobs.submit(summarize())
    // Claimed oldest first: the same job in both runs of the workload.
    const claim = yield* jobs.claimNext()
    const done = claim!.job
    yield* store.heartbeat(claim!.run.id)
    yield* jobs.addMetrics(done.job_id, { input_tokens: 3 })
    yield* jobs.complete(done.job_id)
    yield* jobs.submit(summarize({ entity_refs: [{ entity_id: `doc-${round}`, entity_kind: "document" }] }))
    const failed = yield* jobs.claimNext()
    yield* jobs.fail(failed!.job.job_id, "boom")
    const cancelled = yield* jobs.submit(summarize())
    yield* jobs.pin(cancelled.job_id)
    yield* jobs.unpin(cancelled.job_id)
    yield* jobs.cancel(cancelled.job_id)
    yield* jobs.submitMany([summarize(), summarize()])
    yield* jobs.get(done.job_id)
    yield* jobs.list({ limit: 5 })
    yield* jobs.history(done.job_id)
    yield* store.listEvents({ limit: 20 })
    yield* store.listRuns(done.job_id)
    // A run left without heartbeats, recovered.
    yield* jobs.claimNext()
    yield* store.findStaleRuns({ heartbeatBefore: yield* staleBefore(Duration.seconds(-60)) })
    yield* store.stallStaleRuns({ heartbeatBefore: yield* staleBefore(Duration.seconds(-60)), threshold: Duration.seconds(0), limit: 10 })
    // Nodes, a released run, reads and the Janitor's statements.
    yield* jobs.submit(summarize())
    const running = (yield* jobs.claimNext())!
    const node = yield* store.startNode({ workflow_run_id: running.run.id, node_id: `n${round}`, node_type: "llm", input_payload: { round } })
    yield* store.finishNode(node.id, { status: "completed", output_payload: { ok: true } })
    yield* store.listNodes(running.run.id)
    yield* store.releaseRun(running.run.id, { reason: "shutdown" })
    yield* store.lockJob(running.job.job_id)
    yield* store.updateJob(running.job.job_id, { status_reason: `r${round}` })
    yield* store.pruneJobs({ olderThan: DateTime.unsafeMake(0), keepNewest: 1, dryRun: true })
    yield* store.purgeEventsBatch({ before: DateTime.unsafeMake(0), batchSize: 10 })
  }
})

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const INSTANT = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}/

/** `value` with what differs between two runs of the workload (ids, times) replaced by its kind; types, nulls and keys in order kept. */
const comparable = (value: unknown, ids: Map<string, string>): unknown => {
  if (value instanceof Date) return "<Date>"
  if (typeof value === "string") {
    if (UUID.test(value)) {
      if (!ids.has(value)) ids.set(value, `<id ${ids.size}>`)
      return ids.get(value)
    }
    return INSTANT.test(value) ? "<instant text>" : value
  }
  if (Array.isArray(value)) return value.map((item) => comparable(item, ids))
  if (typeof value === "object" && value !== null) {
    return Object.entries(value).map(([key, item]) => [key, comparable(item, ids)])
  }
  return value
}

describe("issue 16 PostgreSQL named statements described once per connection", () => {
  it.scoped("issue 16 a named statement is described at its first execution on a connection, and not at the next ones", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("describe once count")
      const once = yield* pool(url, true)
      yield* Effect.promise(() => once.query("CREATE TABLE t (id int PRIMARY KEY, a text, b jsonb, c timestamptz); INSERT INTO t VALUES (1, 'x', '{\"k\":1}', '2026-01-02T03:04:05Z')"))
      describes.length = 0
      for (let i = 0; i < 5; i++) {
        const { rows } = yield* Effect.promise(() => once.query("SELECT * FROM t WHERE id = $1", [1]))
        assert.deepStrictEqual(rows, [{ id: 1, a: "x", b: { k: 1 }, c: new Date("2026-01-02T03:04:05Z") }])
        yield* Effect.promise(() => once.query("UPDATE t SET a = a WHERE id = $1", [1]))
      }
      assert.strictEqual(describes.length, 2, "one Describe per statement")

      // Off, every execution is described (pg's own behaviour).
      const every = yield* pool(url, false)
      describes.length = 0
      for (let i = 0; i < 5; i++) yield* Effect.promise(() => every.query("SELECT * FROM t WHERE id = $1", [1]))
      assert.strictEqual(describes.length, 5)
    }), { timeout: 60_000 })

  it.scoped("issue 16 every statement the store runs answers the same rows described once as described on every execution", () =>
    Effect.gen(function*() {
      const results: Array<typeof answers> = []
      for (const describeOnce of [true, false]) {
        const url = yield* freshPgDatabase(`describe once store ${describeOnce}`)
        const connection = yield* pool(url, describeOnce)
        const context = yield* Layer.build(storeOver(connection))
        answers.length = 0
        describes.length = 0
        yield* Effect.provide(workload, context)
        results.push([...answers])
        if (describeOnce) {
          const texts = new Set(answers.map((answer) => answer.text))
          assert.isAtMost(describes.length, texts.size, "described at most once per statement text")
          assert.isAbove(answers.length, 2 * texts.size, "the statements ran again after their first execution")
        }
      }
      const [once, every] = results as [typeof answers, typeof answers]
      assert.strictEqual(once.length, every.length)
      assert.isAbove(new Set(once.map((answer) => answer.text)).size, 25, "the workload runs the store's statement kinds")
      const [onceIds, everyIds] = [new Map<string, string>(), new Map<string, string>()]
      for (let i = 0; i < once.length; i++) {
        assert.strictEqual(once[i]!.text, every[i]!.text, `statement ${i}`)
        assert.deepStrictEqual(once[i]!.fields, every[i]!.fields, `fields of: ${once[i]!.text}`)
        assert.deepStrictEqual(comparable(once[i]!.rows, onceIds), comparable(every[i]!.rows, everyIds), `rows of: ${once[i]!.text}`)
      }
    }), { timeout: 120_000 })

  it.scoped("issue 16 a schema change on the same connection, as a migration in the same process, is never answered with the statement's old shape", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("describe once schema change")
      const once = yield* pool(url, true)
      const run = (text: string, values: Array<unknown> = []) => Effect.promise(() => once.query(text, values).then((result) => result.rows, (error: Error) => error))
      const read = () => run("SELECT * FROM t WHERE id = $1", [1])
      yield* run("CREATE TABLE t (id int PRIMARY KEY, a int)")
      yield* run("INSERT INTO t VALUES (1, 10)")
      for (let i = 0; i < 7; i++) assert.deepStrictEqual(yield* read(), [{ id: 1, a: 10 }])

      // A new column.
      yield* run("ALTER TABLE t ADD COLUMN b text NOT NULL DEFAULT 'z'")
      assert.deepStrictEqual(yield* read(), [{ id: 1, a: 10, b: "z" }])
      assert.deepStrictEqual(yield* read(), [{ id: 1, a: 10, b: "z" }])
      // Another type: int8 comes back as text, as pg parses it.
      yield* run("ALTER TABLE t ALTER COLUMN a TYPE bigint")
      assert.deepStrictEqual(yield* read(), [{ id: 1, a: "10", b: "z" }])
      // Another table under the same name, columns in another order.
      yield* run("DROP TABLE t")
      yield* run("CREATE TABLE t (b jsonb, id int PRIMARY KEY)")
      yield* run("INSERT INTO t VALUES ('[1]', 1)")
      const rows = yield* read()
      assert.deepStrictEqual(rows, [{ b: [1], id: 1 }])
      assert.deepStrictEqual(Object.keys((rows as Array<object>)[0]!), ["b", "id"])

      // Inside a transaction the refusal stands (its caller runs it again whole); after the
      // rollback the statement answers with the table as it is again.
      yield* run("BEGIN")
      yield* run("ALTER TABLE t ADD COLUMN c int")
      const refused = yield* read()
      assert.instanceOf(refused, Error)
      assert.strictEqual((refused as Error & { code?: string }).code, "0A000")
      yield* run("ROLLBACK")
      assert.deepStrictEqual(yield* read(), [{ b: [1], id: 1 }])
      assert.deepStrictEqual(yield* read(), [{ b: [1], id: 1 }])
    }), { timeout: 60_000 })
})
