/**
 * Fresh PostgreSQL databases on the server provided by global-setup.ts.
 *
 *   const url = yield* freshPgDatabase("job store")   // in an Effect: dropped when the scope closes
 *
 *   const url = await freshDatabaseUrl("job-store")   // in beforeAll
 *   ...                                                // connect with url
 *   await dropDatabase(url)                            // in afterAll (best effort)
 *
 * One database per test (or test file) keeps parallel test files isolated.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as SqlPgClient from "@effect/sql-pg/PgClient"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { randomBytes } from "node:crypto"
import { createRequire } from "node:module"
import { inject } from "vitest"

/** The subset of `pg.Client` the harness and its tests use. */
export interface PgClient {
  query<Row = Record<string, unknown>>(
    text: string,
    values?: ReadonlyArray<unknown>
  ): Promise<{ readonly rows: Array<Row>; readonly rowCount: number | null }>
  end(): Promise<void>
  on(event: "error", listener: (error: Error) => void): unknown
  connect(): Promise<void>
}

interface PgModule {
  readonly Client: new (config: { connectionString: string }) => PgClient
}

// @types/pg is not installed (pg comes in transitively via @effect/sql-pg), so
// `import pg from "pg"` would not type-check; load it untyped and describe the
// small surface we need above. Swap for `import pg from "pg"` once @types/pg is a devDependency.
const pg = createRequire(import.meta.url)("pg") as PgModule

/** Opens a connected `pg` client; the caller must `end()` it. */
export async function connectPg(url: string): Promise<PgClient> {
  const client = new pg.Client({ connectionString: url })
  // Without a listener, a server-side disconnect (e.g. DROP DATABASE ... FORCE) would crash the worker.
  client.on("error", () => {})
  await client.connect()
  return client
}

/**
 * Waits until no other session is connected to the database `url` names —
 * after a client process was SIGKILLed, until the server has finished what
 * that process had already sent (a COMMIT received before the kill still
 * commits) and dropped its connections.
 */
export async function awaitOtherSessionsGone(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const others = await withClient(url, async (client) =>
      Number((await client.query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
      )).rows[0]!.n))
    if (others === 0) return
    if (Date.now() > deadline) throw new Error(`${others} other sessions still connected to ${url} after ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

async function withClient<A>(url: string, f: (client: PgClient) => Promise<A>): Promise<A> {
  const client = await connectPg(url)
  try {
    return await f(client)
  } finally {
    await client.end().catch(() => {})
  }
}

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`

/** Admin URL provided by the vitest globalSetup. */
export function pgAdminUrl(): string {
  return inject("pgAdminUrl")
}

/** Creates an empty database named after `label` (sanitised, plus a random suffix) and returns its URL. */
export async function freshDatabaseUrl(label: string): Promise<string> {
  const admin = pgAdminUrl()
  const slug = label.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 40) || "db"
  // 63 bytes is PostgreSQL's identifier limit: "hsk_" + 40 + "_" + 12 hex = 57.
  const name = `hsk_${slug}_${randomBytes(6).toString("hex")}`
  await withClient(admin, (client) => client.query(`CREATE DATABASE ${quoteIdent(name)}`))
  const url = new URL(admin)
  url.pathname = `/${encodeURIComponent(name)}`
  return url.toString()
}

/** Drops a database made by `freshDatabaseUrl`, disconnecting any leftover sessions. Never throws. */
export async function dropDatabase(url: string): Promise<void> {
  try {
    const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ""))
    if (name === "") return
    // WITH (FORCE) needs PostgreSQL 13+.
    await withClient(pgAdminUrl(), (client) => client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`))
  } catch {
    // best effort: a throwaway cluster is deleted wholesale anyway
  }
}

/** The `pg.Pool` surface `endPoolClosed` uses. */
interface EndablePool {
  readonly totalCount: number
  on(event: "remove", listener: () => void): unknown
  end(): Promise<void>
}

/**
 * Ends a test's `pg` pool and waits until every connection of it has closed.
 * `pool.end()` resolves once it has asked each idle connection to close, not
 * once they have: the database's drop right after (`WITH (FORCE)`, the scope's
 * next finalizer) could terminate one still open, and its FATAL then reaches
 * the pool, which re-emits an idle connection's error as its own 'error' —
 * unhandled without a listener, failing the whole run.
 */
export const endPoolClosed = (pool: EndablePool): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    let open = pool.totalCount
    const closed = () => resume(Effect.void)
    if (open === 0) return void pool.end().then(closed, closed)
    // pg-pool emits 'remove' from each connection's end callback: its socket has closed.
    pool.on("remove", () => {
      open -= 1
      if (open === 0) closed()
    })
    pool.end().catch(() => {})
  })

/** The URL of a new, empty database, dropped (with any sessions left on it) when the scope closes. */
export const freshPgDatabase = (label: string) =>
  Effect.acquireRelease(
    Effect.promise(() => freshDatabaseUrl(label)),
    (url) => Effect.promise(() => dropDatabase(url))
  )

/** A plain client on `url`: no migrations, no store, JSON untouched. */
export const rawPgClient = (url: string): Layer.Layer<SqlClient.SqlClient, SqlError> =>
  SqlPgClient.layer({ url: Redacted.make(url), transformJson: false })
