/**
 * SQLite's refusal of a file this process may not write or read, met while
 * the store opened it ("attempt to write a readonly database", wherever the
 * open first touched the file: the connection's set-up or the migrations), as
 * a `StorageError` of `SqliteStore.open "<file>"` naming what stops the
 * process (fileAccess.ts). Only on the failure path.
 */
import { openRefusal } from "./fileAccess.js"
import { MigrationFailed, StorageError } from "../StoreErrors.js"

/**
 * `error` as a `StorageError` naming `filename` and why this process cannot
 * open it, when it is SQLite's refusal (a `StorageError`, or a
 * `MigrationFailed` whose cause carries SQLite's code: the file turned
 * read-only between the store's check and its first write) and the file
 * system says why; any other error as it is.
 */
export const explainRefusal = <E>(filename: string, readonly: boolean, error: E): E | StorageError => {
  if (!(error instanceof StorageError) && !(error instanceof MigrationFailed)) return error
  const refusal = openRefusal(filename, readonly, error)
  return refusal === undefined ? error : new StorageError({ operation: `SqliteStore.open ${JSON.stringify(filename)}`, cause: refusal })
}
