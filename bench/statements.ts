/**
 * 8. Statements and commits per job, counted (issue 16): one job's whole
 * life, one at a time — ours (submit → claim → heartbeat → complete, every
 * audit event written), pg-boss (send → fetch → complete) and
 * SqlPersistedQueue (offer → take → complete).
 *
 * PostgreSQL: counted on the server, on a cluster of its own started with
 * pg_stat_statements (the timed figures run without it). Statements are
 * pg_stat_statements' top-level calls in the system's own database (transaction
 * control and savepoints included; a trigger's or a foreign key check's
 * queries are not round trips, and not counted); commits are
 * pg_stat_database.xact_commit (every committed transaction: a lone statement
 * in autocommit is one, a read-only one too). Both are cumulative and a
 * backend reports its transaction counts when it goes idle or exits, so each
 * system runs two sessions from connect to close — one with no jobs, one with
 * N — and a job's count is the difference of the two, divided by N: what
 * starting and stopping cost drops out.
 *
 * SQLite: counted in the driver, every statement better-sqlite3 executes
 * (its Statement prototype wrapped, as test/store/sqlite-statements.test.ts
 * does) while the N jobs run; commits are COMMITs plus statements run outside
 * a transaction (each its own autocommit), the same definition as above.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { createRequire } from "node:module"
import type pg from "pg"
import { type BenchContext, freshTarget, type Target, withServices } from "./app.js"
import * as PersistedQueueBench from "./baselines/persistedQueue.js"
import { bossCycle, startBoss } from "./baselines/pgBoss.js"
import { connectPg } from "./drivers.js"
import { type Measurement, measurement } from "./harness.js"
import { oneLifecycle } from "./lifecycle.js"
import { type BenchCluster, COUNTING_SETTINGS, PG_STAT_STATEMENTS, startBenchCluster } from "./postgres.js"

/** Jobs run before counting starts (caches, prepared statements, first-use work). */
const WARM_UP = 5

type Kind = "transactionControl" | "savepoints" | "other"

/** Counts of one measured stretch. */
interface Counts {
  readonly statements: Record<Kind, number>
  readonly commits: number
}

const kindOf = (sql: string): Kind => {
  const head = sql.trimStart().toUpperCase()
  if (/^(SAVEPOINT|RELEASE|ROLLBACK\s+TO)\b/.test(head)) return "savepoints"
  if (/^(BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK|ABORT)\b/.test(head)) return "transactionControl"
  return "other"
}

const isCommit = (sql: string): boolean => /^\s*(COMMIT|END)\b/i.test(sql)

/** A system under count: `session(n)` connects, runs n lifecycles one after another, and disconnects. */
interface Counted {
  readonly key: string
  readonly system: string
  readonly lifecycle: string
  readonly session: (jobs: number, counting: (during: () => Promise<void>) => Promise<void>) => Promise<void>
}

const loop = async (jobs: number, cycle: () => Promise<unknown>) => {
  for (let i = 0; i < jobs; i++) await cycle()
}

const loopEffect = <E, R>(jobs: number, cycle: Effect.Effect<unknown, E, R>) =>
  Effect.gen(function*() {
    for (let i = 0; i < jobs; i++) yield* cycle
  })

/** Ours on `target`: the services built, warmed up, then `jobs` lifecycles inside `counting`. */
const ours = (target: Target): Counted => ({
  key: "ours",
  system: "ours",
  lifecycle: "submit → claim → heartbeat → complete (4 audit events)",
  session: (jobs, counting) =>
    withServices(target, Effect.gen(function*() {
      yield* loopEffect(WARM_UP, oneLifecycle)
      const context = yield* Effect.context<Effect.Effect.Context<typeof oneLifecycle>>()
      yield* Effect.promise(() => counting(() => Effect.runPromise(Effect.provide(loopEffect(jobs, oneLifecycle), context))))
    }))
})

/** SqlPersistedQueue over `client`. */
const persistedQueue = (client: Layer.Layer<SqlClient.SqlClient, unknown>): Counted => ({
  key: "queue",
  system: "SqlPersistedQueue",
  lifecycle: "offer → take → complete",
  session: (jobs, counting) =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const context = yield* Layer.build(PersistedQueueBench.layer.pipe(Layer.provide(client)))
      const queue = yield* Effect.provide(PersistedQueueBench.makeQueue, context)
      yield* loopEffect(WARM_UP, PersistedQueueBench.queueCycle(queue))
      yield* Effect.promise(() => counting(() => Effect.runPromise(loopEffect(jobs, PersistedQueueBench.queueCycle(queue)))))
    })))
})

const pgBoss = (url: string): Counted => ({
  key: "pgboss",
  system: "pg-boss 10",
  lifecycle: "send → fetch → complete",
  session: async (jobs, counting) => {
    const { boss, queue } = await startBoss(url)
    try {
      await loop(WARM_UP, () => bossCycle(boss, queue))
      await counting(() => loop(jobs, () => bossCycle(boss, queue)))
    } finally {
      await boss.stop({ graceful: false, wait: true })
    }
  }
})

// PostgreSQL ------------------------------------------------------------------

/** pg_stat_statements calls by query, and committed transactions, of `database` so far. */
const serverCounts = async (admin: pg.Client, database: string) => {
  const statements = await admin.query<{ readonly query: string; readonly calls: number }>(
    `SELECT s.query, sum(s.calls)::float8 AS calls FROM pg_stat_statements AS s
     JOIN pg_database AS d ON d.oid = s.dbid
     WHERE d.datname = $1 AND s.toplevel
       -- A deferred foreign key check runs at commit, outside any statement, so it shows as top level (ri_triggers.c's text, normalised).
       AND s.query NOT LIKE 'SELECT $% FROM ONLY %FOR KEY SHARE OF x'
     GROUP BY s.query`,
    [database]
  )
  const commits = await admin.query<{ readonly commits: number }>(
    "SELECT xact_commit::float8 AS commits FROM pg_stat_database WHERE datname = $1",
    [database]
  )
  return { calls: new Map(statements.rows.map((r) => [r.query, r.calls])), commits: commits.rows[0]?.commits ?? 0 }
}

type ServerCounts = Awaited<ReturnType<typeof serverCounts>>

const minus = (after: ServerCounts, before: ServerCounts): Counts => {
  const statements: Record<Kind, number> = { transactionControl: 0, savepoints: 0, other: 0 }
  for (const [query, calls] of after.calls) statements[kindOf(query)] += calls - (before.calls.get(query) ?? 0)
  return { statements, commits: after.commits - before.commits }
}

/** Waits until no backend is connected to `database`: an exiting backend reports its counts first. */
const disconnected = async (admin: pg.Client, database: string) => {
  for (let i = 0; i < 200; i++) {
    const { rows } = await admin.query<{ readonly n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1", [database])
    if (rows[0]?.n === 0) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  await new Promise((resolve) => setTimeout(resolve, 200))
}

/** A job's counts on PostgreSQL: (session of N jobs − session of none) ÷ N. */
const countPg = async (admin: pg.Client, database: string, counted: Counted, jobs: number): Promise<Counts> => {
  const direct = (during: () => Promise<void>) => during()
  await counted.session(0, direct)
  await disconnected(admin, database)
  const start = await serverCounts(admin, database)
  await counted.session(0, direct)
  await disconnected(admin, database)
  const idle = await serverCounts(admin, database)
  await counted.session(jobs, direct)
  await disconnected(admin, database)
  const end = await serverCounts(admin, database)
  const empty = minus(idle, start)
  const full = minus(end, idle)
  return {
    statements: {
      transactionControl: full.statements.transactionControl - empty.statements.transactionControl,
      savepoints: full.statements.savepoints - empty.statements.savepoints,
      other: full.statements.other - empty.statements.other
    },
    commits: full.commits - empty.commits
  }
}

const countAllPg = async (ctx: BenchContext, cluster: BenchCluster, jobs: number) => {
  const admin = await connectPg(cluster.url)
  const out: Array<readonly [Counted, Counts]> = []
  try {
    await admin.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    const fresh = async (name: string) => {
      const url = await cluster.createDatabase(name)
      return { url, database: name }
    }
    const oursDb = await fresh("statements_ours")
    const bossDb = await fresh("statements_pgboss")
    const queueDb = await fresh("statements_queue")
    const systems: ReadonlyArray<readonly [Counted, string]> = [
      [ours({ dialect: "pg", url: oursDb.url }), oursDb.database],
      [pgBoss(bossDb.url), bossDb.database],
      [persistedQueue(PgClient.layer({ url: Redacted.make(queueDb.url) })), queueDb.database]
    ]
    for (const [counted, database] of systems) {
      ctx.log(`statements/pg: ${counted.system}, ${jobs} jobs`)
      out.push([counted, await countPg(admin, database, counted, jobs)])
    }
  } finally {
    await admin.end()
  }
  return out
}

// SQLite ----------------------------------------------------------------------

interface StatementLike {
  readonly source: string
  readonly reader: boolean
  readonly database: { readonly inTransaction: boolean }
}
export type Method = "run" | "all" | "get" | "iterate"
export const METHODS: ReadonlyArray<Method> = ["run", "all", "get", "iterate"]

/** better-sqlite3's Statement prototype (shared by every database the process opens). */
export const statementPrototype = (): Record<Method, (...args: Array<unknown>) => unknown> => {
  const Database = createRequire(import.meta.url)("better-sqlite3") as new (filename: string) => {
    prepare(sql: string): object
    close(): void
  }
  const probe = new Database(":memory:")
  const proto = Object.getPrototypeOf(probe.prepare("SELECT 1")) as Record<Method, (...args: Array<unknown>) => unknown>
  probe.close()
  return proto
}

/** Runs `during` while counting every statement better-sqlite3 executes, and the commits among them. */
const countingSqlite = async (during: () => Promise<void>): Promise<Counts> => {
  const proto = statementPrototype()
  const originals = Object.fromEntries(METHODS.map((m) => [m, proto[m]])) as Record<Method, (...args: Array<unknown>) => unknown>
  const statements: Record<Kind, number> = { transactionControl: 0, savepoints: 0, other: 0 }
  let commits = 0
  for (const method of METHODS) {
    const original = originals[method]
    proto[method] = function(this: StatementLike, ...args: Array<unknown>) {
      const kind = kindOf(this.source)
      statements[kind]++
      // A COMMIT, or a statement outside any transaction (its own autocommit); not BEGIN or a rollback,
      // nor a PRAGMA (a connection setting: the heartbeat's `synchronous` switch opens no transaction).
      if (isCommit(this.source) || (!this.database.inTransaction && kind === "other" && !/^\s*PRAGMA\b/i.test(this.source))) commits++
      return original.apply(this, args)
    }
  }
  try {
    await during()
  } finally {
    Object.assign(proto, originals)
  }
  return { statements, commits }
}

const countAllSqlite = async (ctx: BenchContext, jobs: number) => {
  const oursTarget = await freshTarget(ctx, "sqlite", "statements_ours")
  const queueTarget = await freshTarget(ctx, "sqlite", "statements_queue")
  if (queueTarget.dialect !== "sqlite") throw new Error("unreachable")
  const out: Array<readonly [Counted, Counts]> = []
  for (const counted of [ours(oursTarget), persistedQueue(PersistedQueueBench.sqliteClient(queueTarget.filename, "full"))]) {
    ctx.log(`statements/sqlite: ${counted.system}, ${jobs} jobs`)
    let counts: Counts | undefined
    await counted.session(jobs, async (during) => {
      counts = await countingSqlite(during)
    })
    if (counts === undefined) throw new Error(`${counted.system}: nothing counted`)
    out.push([counted, counts])
  }
  return out
}

// -----------------------------------------------------------------------------

/** Counts statements and commits per job on both dialects. */
export const run = async (ctx: BenchContext): Promise<Array<Measurement>> => {
  const jobs = ctx.mode.statementJobs
  const out: Array<Measurement> = []
  const record = (dialect: "sqlite" | "pg", all: ReadonlyArray<readonly [Counted, Counts]>, countedWith: string) => {
    for (const [counted, counts] of all) {
      const perJob = (n: number) => Number((n / jobs).toFixed(2))
      const total = counts.statements.transactionControl + counts.statements.savepoints + counts.statements.other
      out.push(measurement({
        id: `statements.${dialect}.${counted.key}`,
        section: "statements",
        name: counted.lifecycle,
        system: counted.system,
        dialect,
        unit: "per job",
        better: "lower",
        params: { jobs },
        samples: [perJob(total)],
        extra: {
          statements: perJob(total),
          transaction_control: perJob(counts.statements.transactionControl),
          savepoints: perJob(counts.statements.savepoints),
          other_statements: perJob(counts.statements.other),
          commits: perJob(counts.commits),
          counted_with: countedWith
        }
      }))
    }
  }
  if (PG_STAT_STATEMENTS) {
    ctx.log("statements/pg: starting a cluster with pg_stat_statements")
    const cluster = await startBenchCluster(COUNTING_SETTINGS)
    try {
      record("pg", await countAllPg(ctx, cluster, jobs), "pg_stat_statements and pg_stat_database")
    } finally {
      await cluster.stop()
    }
  } else {
    ctx.log("statements/pg: pg_stat_statements is not installed with this PostgreSQL; PostgreSQL not counted")
  }
  record("sqlite", await countAllSqlite(ctx, jobs), "better-sqlite3's Statement methods, wrapped")
  return out
}
