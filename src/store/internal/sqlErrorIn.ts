/**
 * The driver's `SqlError` under a store failure, for both stores to classify
 * a migration's failure by it however it was wrapped on the way up.
 */
import { SqlError } from "@effect/sql/SqlError"

/** The first `SqlError` in `error`'s `cause` chain (a few levels down: a MigrationFailed, the Migrator's defect), if any. */
export const sqlErrorIn = (error: unknown): SqlError | undefined => {
  let current = error
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    if (current instanceof SqlError) return current
    current = (current as { readonly cause?: unknown }).cause
  }
  return undefined
}
