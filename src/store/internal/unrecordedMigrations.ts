/**
 * Pending migrations the Migrator neither applied nor refused, on either
 * store. @effect/sql's Migrator records them in the bookkeeping table before
 * it runs them, and takes that INSERT's failure for another process
 * migrating ("Migrations already running"): it rolls its savepoint back, runs
 * nothing and returns none — the store opened on the schema it had, a full
 * disk or a trigger's refusal never said (found by
 * test/store/pg-migrate-database-failure.test.ts). The stores migrate under a
 * lock (PostgreSQL's advisory lock, SQLite's write lock) so no other process
 * migrates meanwhile: that INSERT failed.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { MigrationFailed, StorageError } from "../StoreErrors.js"
import { inHandSaid, type MigrationsInHand } from "./migrationsInHand.js"

/** What rolls the probe back once its INSERT went through. */
const PROBED = "probed" as const

/**
 * The failure of a migration whose pending migrations up to `newest` were
 * not recorded in `table`: the Migrator's INSERT runs again in a savepoint,
 * always rolled back, for the failure the Migrator dropped — a
 * `MigrationFailed` whose cause is that `SqlError`, for the store to classify
 * as any statement's. Should it pass this time, the database failed once: a
 * `StorageError` naming the migrations in hand.
 */
export const unrecordedMigrations = (
  dialect: "sqlite" | "pg",
  table: string,
  newest: number,
  inHand: MigrationsInHand
): Effect.Effect<never, MigrationFailed | StorageError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const failure = yield* Effect.flip(sql.withTransaction(Effect.zipRight(
      sql`INSERT INTO ${sql(table)} (migration_id, name) VALUES (${newest}, 'probe: recording the migrations')`,
      Effect.fail(PROBED)
    )))
    if (failure === PROBED) {
      return yield* new StorageError({
        operation: `${dialect === "pg" ? "PgStore" : "SqliteStore"}.migrate${inHandSaid(inHand)} (the migrations could not be recorded: nothing of the migration committed)`,
        cause: new Error(`the Migrator's INSERT into ${table} failed, and went through when run again`)
      })
    }
    return yield* new MigrationFailed({ dialect, migration_id: null, migration_name: null, statement: null, cause: failure })
  })
