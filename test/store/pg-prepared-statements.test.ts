/**
 * Issue 16: the PostgreSQL store sends its parameterised statements as named
 * prepared statements (src/store/pg/preparedStatements.ts), parsed and
 * planned once per connection. On a real server: what goes over the
 * protocol with the option on and off, the per-connection bound under many
 * distinct texts, and a schema change made by another session while the
 * store's connections hold statements whose result type it changes. (The
 * contract suites run with it on; `HSK_PG_PREPARED_STATEMENTS=off` runs them
 * with it off.)
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { createHash } from "node:crypto"
import * as Pg from "pg"
import { afterEach, beforeEach } from "vitest"
import { JobStore } from "../../src/store/JobStore.js"
import { preparingClient, replansAt } from "../../src/store/pg/preparedStatements.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { connectPg, endPoolClosed, freshPgDatabase } from "../support/pg-database.js"
import { newJob } from "./fixtures.js"

/** The statement names of every Parse message this process sends ("" for unnamed). */
const parsed: Array<string> = []
const originalParse = Pg.Connection.prototype.parse
beforeEach(() => {
  parsed.length = 0
  Pg.Connection.prototype.parse = function(this: Pg.Connection, query: { readonly name?: string }) {
    parsed.push(query.name ?? "")
    Reflect.apply(originalParse, this, [query])
  }
})
afterEach(() => {
  Pg.Connection.prototype.parse = originalParse
})

const storeOn = (options: PgStore.PgStoreOptions) =>
  Effect.map(Layer.build(PgStore.layer(options)), (context) => Context.get(context, JobStore))

/** One job created, claimed, beaten and completed, and read back. */
const lifecycle = (store: Context.Tag.Service<JobStore>) =>
  Effect.gen(function*() {
    const job = yield* store.createJob(newJob())
    const claim = yield* store.claimNext()
    assert.strictEqual(claim?.job.job_id, job.job_id)
    yield* store.heartbeat(claim!.run.id)
    yield* store.transition({ job_id: job.job_id, to: "completed", from: "running" })
    return yield* store.getJob(job.job_id)
  })

/** A plain session on `url`, closed with the scope. */
const session = (url: string) =>
  Effect.acquireRelease(Effect.promise(() => connectPg(url)), (client) => Effect.promise(() => client.end().catch(() => {})))

/** A `pg` pool of the store's client class (one connection unless told), keeping `perConnection` statements each; ended with the scope. */
const preparingPool = (url: string, perConnection: number, connections = 1) =>
  Effect.acquireRelease(
    Effect.sync(() => new Pg.Pool({ connectionString: url, max: connections, Client: preparingClient(perConnection) as never })),
    endPoolClosed
  )

describe("issue 16 named prepared statements on PostgreSQL", () => {
  it.scoped("issue 16 on (the default), the store's parameterised statements are named, each parsed once per connection; off, none is", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("prepared on off")
      const on = yield* storeOn({ url, maxConnections: 1 })
      parsed.length = 0
      for (let i = 0; i < 3; i++) assert.strictEqual((yield* lifecycle(on)).state, "completed")
      const named = parsed.filter((name) => name !== "")
      assert.isAbove(named.length, 3, "the lifecycle's statements are named")
      assert.isTrue(named.every((name) => /^hsk_[0-9a-f]{40}$/.test(name)))
      // One connection: the second and third lifecycles parse nothing again.
      assert.strictEqual(new Set(named).size, named.length, `each name parsed once: ${named.join(", ")}`)
      assert.isTrue(parsed.every((name) => name !== ""), "no statement with parameters sent unnamed")

      const off = yield* storeOn({ url, maxConnections: 1, preparedStatements: false })
      parsed.length = 0
      for (let i = 0; i < 3; i++) assert.strictEqual((yield* lifecycle(off)).state, "completed")
      assert.isAbove(parsed.length, 3)
      assert.deepStrictEqual(parsed.filter((name) => name !== ""), [], "off: every Parse is unnamed")
    }), { timeout: 60_000 })

  it.scoped("issue 16 each connection keeps at most maxPreparedStatements, least recently used closed first, and evicted texts still run right", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("prepared bound")
      const pool = yield* preparingPool(url, 5)
      const run = (text: string, values: ReadonlyArray<unknown>) =>
        Effect.promise(() => pool.query<{ readonly v: number }>(text, [...values]))
      const held = () =>
        Effect.promise(() => pool.query<{ readonly statement: string }>("SELECT statement FROM pg_prepared_statements"))
      // 60 distinct texts, as IN lists of every length would give; each run twice, the second time after others.
      for (let i = 0; i < 60; i++) {
        const { rows } = yield* run(`SELECT $1::int + ${i} AS v`, [i])
        assert.strictEqual(rows[0]?.v, 2 * i)
        const count = (yield* held()).rows.length
        assert.isAtMost(count, 5, `after ${i + 1} texts the connection holds ${count}`)
      }
      assert.strictEqual((yield* held()).rows.length, 5)
      // A text used again stays; the least recently used leaves.
      for (let i = 0; i < 60; i++) {
        assert.strictEqual((yield* run(`SELECT $1::int + ${i} AS v`, [1])).rows[0]?.v, i + 1)
        if (i % 2 === 0) assert.strictEqual((yield* run("SELECT $1::int * 3 AS v", [i])).rows[0]?.v, 3 * i)
        assert.isAtMost((yield* held()).rows.length, 5)
      }
      // The last ones used are the ones kept: texts 57..59 and the shared one.
      const kept = (yield* held()).rows.map((row) => row.statement)
      for (const text of ["SELECT $1::int + 59 AS v", "SELECT $1::int + 58 AS v", "SELECT $1::int * 3 AS v"]) assert.include(kept, text)
    }), { timeout: 60_000 })

  it.scoped("issue 16 an ALTER TABLE by another session that changes a prepared statement's result type breaks neither the next call nor the next transaction", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("prepared schema change")
      const store = yield* storeOn({ url, maxConnections: 1 })
      const job = yield* store.createJob(newJob())
      // The connection holds getJob and updateJob named (and past five runs: a generic plan).
      for (let i = 0; i < 8; i++) {
        yield* store.getJob(job.job_id)
        yield* store.updateJob(job.job_id, { status_reason: `r${i}` })
      }
      const other = yield* session(url)
      // status_reason text -> varchar: every statement returning the job's columns now returns another type.
      yield* Effect.promise(() => other.query("ALTER TABLE ai_jobs ALTER COLUMN status_reason TYPE varchar(4000)"))
      const read = yield* store.getJob(job.job_id)
      assert.strictEqual(read.status_reason, "r7")
      assert.strictEqual((yield* store.getJob(job.job_id)).status_reason, "r7")

      // Inside a transaction the refused statement aborts it: the store runs it again, whole, once.
      yield* Effect.promise(() => other.query("ALTER TABLE ai_jobs ALTER COLUMN status_reason TYPE text"))
      let attempts = 0
      const updated = yield* store.transaction(Effect.gen(function*() {
        attempts++
        const before = yield* store.getJob(job.job_id)
        return yield* store.updateJob(job.job_id, { status_reason: `${before.status_reason}+` })
      }))
      assert.strictEqual(updated.status_reason, "r7+", "the update ran once, on the row as it was")
      assert.strictEqual(attempts, 2)
      const stored = yield* Effect.promise(() => other.query("SELECT status_reason FROM ai_jobs WHERE id = $1", [job.job_id]))
      assert.strictEqual(stored.rows[0]?.["status_reason"], "r7+")
    }), { timeout: 60_000 })

  it.scoped("issue 16 on the pool's own connections, a statement refused after a schema change is prepared again and run once, and answers with the new columns", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("prepared select star")
      const pool = yield* preparingPool(url, 10)
      const read = () => Effect.promise(() => pool.query("SELECT * FROM t WHERE id = $1", [1]))
      yield* Effect.promise(() => pool.query("CREATE TABLE t (id int PRIMARY KEY, a text); INSERT INTO t VALUES (1, 'x')"))
      for (let i = 0; i < 7; i++) assert.deepStrictEqual((yield* read()).rows, [{ id: 1, a: "x" }])
      const other = yield* session(url)
      yield* Effect.promise(() => other.query("ALTER TABLE t ADD COLUMN b int NOT NULL DEFAULT 7"))
      assert.deepStrictEqual((yield* read()).rows, [{ id: 1, a: "x", b: 7 }])
      yield* Effect.promise(() => other.query("ALTER TABLE t ALTER COLUMN b TYPE text"))
      assert.deepStrictEqual((yield* read()).rows, [{ id: 1, a: "x", b: "7" }])
    }), { timeout: 60_000 })

  it.scoped("issue 16 after one connection's statement is refused inside a transaction, the pool's other connections prepare afresh before their next use", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("prepared pool generation")
      const pool = yield* preparingPool(url, 10, 2)
      yield* Effect.promise(() => pool.query("CREATE TABLE t (id int PRIMARY KEY, a text); INSERT INTO t VALUES (1, 'x')"))
      // Two connections held at once, each with the statement prepared.
      const first = yield* Effect.acquireRelease(Effect.promise(() => pool.connect()), (client) => Effect.sync(() => client.release()))
      const second = yield* Effect.acquireRelease(Effect.promise(() => pool.connect()), (client) => Effect.sync(() => client.release()))
      const read = (client: Pg.PoolClient) => Effect.promise(() => client.query("SELECT * FROM t WHERE id = $1", [1]).then((r) => r.rows, (e: Error) => e))
      for (const client of [first, second]) assert.deepStrictEqual(yield* read(client), [{ id: 1, a: "x" }])
      const other = yield* session(url)
      yield* Effect.promise(() => other.query("ALTER TABLE t ADD COLUMN b int NOT NULL DEFAULT 7"))
      // Inside a transaction the first connection's refusal stands (the transaction is aborted: its caller runs it again).
      yield* Effect.promise(() => first.query("BEGIN"))
      const refused = yield* read(first)
      assert.instanceOf(refused, Error)
      assert.strictEqual((refused as Error & { code?: string }).code, "0A000")
      yield* Effect.promise(() => first.query("ROLLBACK"))
      // The second connection, inside a transaction too, has dropped its statement: no refusal.
      yield* Effect.promise(() => second.query("BEGIN"))
      assert.deepStrictEqual(yield* read(second), [{ id: 1, a: "x", b: 7 }])
      yield* Effect.promise(() => second.query("COMMIT"))
      yield* Effect.promise(() => first.query("BEGIN"))
      assert.deepStrictEqual(yield* read(first), [{ id: 1, a: "x", b: 7 }])
      yield* Effect.promise(() => first.query("COMMIT"))
    }), { timeout: 60_000 })

  it.scoped("issue 16 a statement is prepared again at its 100th, 200th, 400th… run on a connection, and answers right throughout", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("prepared replan")
      const pool = yield* preparingPool(url, 10)
      const text = "SELECT $1::int * 2 AS v"
      parsed.length = 0
      for (let i = 1; i <= 401; i++) {
        assert.strictEqual((yield* Effect.promise(() => pool.query<{ readonly v: number }>(text, [i]))).rows[0]?.v, 2 * i)
      }
      // Parsed before its 1st, 101st, 201st and 401st runs: four times, one name.
      assert.strictEqual(parsed.length, 4, `parses: ${parsed.join(", ")}`)
      assert.strictEqual(new Set(parsed).size, 1)
      const held = yield* Effect.promise(() => pool.query<{ readonly n: string }>("SELECT count(*) AS n FROM pg_prepared_statements"))
      assert.strictEqual(Number(held.rows[0]?.n), 1, "the old one was closed, not left beside the new")
      assert.isFalse(replansAt(0))
      assert.isFalse(replansAt(99))
      assert.isFalse(replansAt(300))
      assert.isTrue([100, 200, 400, 800, 1_600, 102_400].every(replansAt))
    }), { timeout: 60_000 })

  it.scoped("issue 16 a generic plan made while a table was small is made again once it has grown, without an ANALYZE (autovacuum off)", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("prepared replan growth")
      const pool = yield* preparingPool(url, 10)
      const plain = yield* session(url)
      yield* Effect.promise(() => plain.query(`
        CREATE TABLE t (id int PRIMARY KEY, tag int NOT NULL) WITH (autovacuum_enabled = off);
        CREATE INDEX t_tag ON t (tag);
        INSERT INTO t SELECT i, i FROM generate_series(1, 20) AS i;
        ANALYZE t`))
      const text = "SELECT id FROM t WHERE tag = $1"
      const name = `hsk_${createHash("sha1").update(text).digest("hex")}`
      const planNow = () =>
        Effect.promise(async () => {
          const { rows } = await pool.query<{ readonly "QUERY PLAN": string }>(`EXPLAIN EXECUTE ${name}(7)`)
          return rows.map((row) => row["QUERY PLAN"]).join("\n")
        })
      const runs = (n: number) =>
        Effect.promise(async () => {
          for (let i = 0; i < n; i++) assert.lengthOf((await pool.query(text, [7])).rows, 1)
        })
      // Small: the generic plan (after five runs) reads the table's one page.
      yield* runs(10)
      assert.match(yield* planNow(), /Seq Scan on t/)
      // Grown a thousandfold, no statistics taken since: the plan made small is still the one kept…
      yield* Effect.promise(() => plain.query("INSERT INTO t SELECT i, i FROM generate_series(21, 20000) AS i"))
      yield* runs(89)
      assert.match(yield* planNow(), /Seq Scan on t/)
      // …until the 100th run prepares it again: the plan is made for the table as it is.
      yield* runs(10)
      const grown = yield* planNow()
      assert.notMatch(grown, /Seq Scan/, grown)
      assert.match(grown, /t_tag/)
    }), { timeout: 60_000 })

  it.effect("issue 16 maxPreparedStatements that is not a whole number ≥ 1 fails the layer with a StorageError", () =>
    Effect.gen(function*() {
      for (const bad of [0, -1, 1.5, Number.NaN]) {
        const exit = yield* Effect.exit(Effect.scoped(Layer.build(PgStore.layer({ url: "postgres://127.0.0.1:1/none", maxPreparedStatements: bad }))))
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) {
          const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
          assert.strictEqual(error?._tag, "StorageError")
          assert.include(String((error as { cause?: { cause?: unknown } })?.cause?.cause), "maxPreparedStatements")
        }
      }
    }))
})
