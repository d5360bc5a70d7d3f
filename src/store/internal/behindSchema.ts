/**
 * A database behind this version — never migrated (a legacy Handshake one
 * included), or migrated by an older version — is refused when a store that
 * will not migrate it is built (`migrate: false`, `readonly`), as a newer
 * one is (newerSchema.ts): its tables are missing or lack what this code
 * writes. Built anyway, startup recovery failed five times on "no such
 * table: ai_jobs" and every submit with `RecoveryFailed`, naming no fix
 * (found by a new-user probe). A process of a rolling deploy that starts
 * before another's migration commits reads the version before it, and is
 * refused the same way, never left half-working.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Effect from "effect/Effect"
import { migrationLabel, padded } from "./migrationLabel.js"
import { newerRefusal, newestOf, refuseSchema } from "./newerSchema.js"
import type { MigrationFailed, StorageError } from "../StoreErrors.js"

/** What to do, said by every refusal of a database behind this version. */
const FIX = "run `ai-jobs migrate` (or build the store with migrate: true), then build it again"

/**
 * The refusal's cause: the database's version and this version's newest, for
 * a caller to say the fix in its own words (the CLI names its own command).
 */
export class SchemaBehind extends Error {
  constructor(readonly version: number, readonly newest: number, pending: ReadonlyArray<string>) {
    super(
      version === 0
        ? `the database is not migrated: it records no migration of @handshake/ai-job-model (a legacy Handshake database included): ${FIX}`
        : `the database's schema is at migration ${padded(version)}, behind this library's ${padded(newest)} (an older version ` +
          `of @handshake/ai-job-model migrated it); pending: ${pending.join(", ")}: ${FIX}`
    )
    this.name = "SchemaBehind"
  }
}

/** Why a database at `current` is refused by a store that will not migrate it, or undefined. */
const behindRefusal = (current: number, shipped: ReadonlyMap<number, string>): Error | undefined => {
  const newest = newestOf(shipped)
  if (current >= newest) return undefined
  const pending = [...shipped].filter(([id]) => id > current).sort(([a], [b]) => a - b).map(([id, name]) => migrationLabel(id, name))
  return new SchemaBehind(current, newest, pending)
}

/**
 * Fails with `MigrationFailed` unless `version` is the newest migration of
 * `directory`: a newer schema (`newerRefusal`) or one behind (`SchemaBehind`).
 * The one read of the version a store build that does not migrate makes.
 */
export const refuseUnlessCurrent = (
  dialect: "sqlite" | "pg",
  version: Effect.Effect<number, StorageError | MigrationFailed, SqlClient.SqlClient>,
  directory: URL
): Effect.Effect<void, MigrationFailed | StorageError, SqlClient.SqlClient> =>
  refuseSchema(dialect, version, directory, (current, shipped) => newerRefusal(current, shipped) ?? behindRefusal(current, shipped))
