/**
 * Helpers shared by the PostgreSQL-specific store tests (pg-*.test.ts):
 * reading the SQLSTATE out of a refused statement, counts, and the shipped
 * migrations. (Fresh databases and raw clients: test/support/pg-database.ts.)
 */
import { SqlError } from "@effect/sql/SqlError"
import { assert } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { readdirSync } from "node:fs"

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

/** The shipped migration just before `id`: the version a database is left at when `id` fails (ids may skip a number). */
export const shippedBefore = (id: number): number => Math.max(0, ...shippedPgMigrationIds.filter((shipped) => shipped < id))
