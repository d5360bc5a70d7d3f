/**
 * What a SQLite driver failure says about the database, as pg/faults.ts
 * says it for PostgreSQL: whether the database (its file, the disk, memory,
 * another connection's lock) failed, rather than refused the statement. A
 * migration or open the database failed is a `StorageError`, which a
 * supervisor retries; one it refused is a `MigrationFailed`, permanent.
 */
import type { SqlError } from "@effect/sql/SqlError"
import { sqliteCode } from "./errors.js"

/**
 * SQLite's primary result codes of the database failing (their extended
 * codes begin with them: SQLITE_IOERR_FSYNC, SQLITE_READONLY_DBMOVED): the
 * file busy or locked past the wait, an I/O error, out of memory, the disk
 * full (or the file at its `max_page_count`), the file not opened, not
 * permitted or not writable (a read-only file, folder or mount; `query_only`), the lock
 * protocol failing. The same statement may go through once the file is free,
 * the disk freed or the file made writable. A refusal — a constraint, a
 * syntax or schema error, a mismatched type, a corrupt file — is not one.
 */
const DATABASE_FAILURE = /^SQLITE_(?:BUSY|LOCKED|IOERR|NOMEM|FULL|CANTOPEN|PERM|PROTOCOL|READONLY)(?:_|$)/

/** Whether a driver error is the database failing rather than refusing the statement (`DATABASE_FAILURE`). */
export const isDatabaseFailure = (error: SqlError): boolean => DATABASE_FAILURE.test(sqliteCode(error) ?? "")
