/**
 * Helpers shared by the PostgreSQL-specific store tests (pg-*.test.ts):
 * scoped fresh databases, a raw client for writing behind the store's back,
 * and reading the SQLSTATE out of a refused statement.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as PgClient from "@effect/sql-pg/PgClient"
import { assert } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { readdirSync } from "node:fs"
import type { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { dropDatabase, freshDatabaseUrl } from "../support/pg-database.js"

/** The URL of a new, empty database, dropped when the scope closes. */
export const freshPgDatabase = (label: string) =>
  Effect.acquireRelease(
    Effect.promise(() => freshDatabaseUrl(label)),
    (url) => Effect.promise(() => dropDatabase(url))
  )

/** A plain client on `url`: no migrations, no store, JSON untouched. */
export const rawPgClient = (url: string): Layer.Layer<SqlClient.SqlClient, SqlError> =>
  PgClient.layer({ url: Redacted.make(url), transformJson: false })

/** A migrated store and a raw client on one fresh database of its own. */
export const freshStoreWithRawClient = (label: string): Layer.Layer<JobStore | SqlClient.SqlClient, unknown> =>
  Layer.unwrapScoped(
    Effect.map(freshPgDatabase(label), (url) => Layer.merge(PgStore.layer({ url }), rawPgClient(url)))
  )

/** What the server said when it refused a statement: SQLSTATE, constraint and message. */
export interface Refusal {
  readonly code: string
  readonly constraint: string | undefined
  readonly message: string
}

/** The server's refusal of `statement`; fails the test if the statement succeeds or fails otherwise. */
export const refusalOf = <A, E, R>(statement: Effect.Effect<A, E, R>): Effect.Effect<Refusal, never, R> =>
  Effect.map(Effect.either(statement), (result) => {
    if (result._tag === "Right") return assert.fail("expected the server to refuse the statement, but it ran")
    const error = result.left
    if (!(error instanceof SqlError)) return assert.fail(`expected a SqlError, got ${String(error)}`)
    return driverError(error)
  })

/** The `pg` error inside a SqlError. */
export const driverError = (error: SqlError): Refusal => {
  const cause = error.cause as { readonly code?: unknown; readonly constraint?: unknown; readonly message?: unknown }
  return {
    code: String(cause?.code),
    constraint: typeof cause?.constraint === "string" ? cause.constraint : undefined,
    message: String(cause?.message)
  }
}

/** A count(*) (int8, which `pg` returns as text) as a number. */
export const countWhere = (query: Effect.Effect<ReadonlyArray<{ readonly n: string }>, SqlError>) =>
  Effect.map(query, ([row]) => Number(row?.n))

/** The ids of the PostgreSQL migrations the package ships, in order: what a full migrate applies. */
export const shippedPgMigrationIds: ReadonlyArray<number> = readdirSync(new URL("../../migrations/pg/", import.meta.url))
  .flatMap((file) => {
    const match = /^(\d{4})_\w+\.sql$/.exec(file)
    return match === null ? [] : [Number(match[1])]
  })
  .sort((a, b) => a - b)
