/**
 * What a delete of callers' content (pruned jobs with their inputs, outputs
 * and node payloads; events purged by retention) leaves in the SQLite files,
 * and how the store clears it.
 *
 * SQLite frees a deleted row's bytes without overwriting them: they stay
 * readable in the database file (`strings jobs.db`) until the space is
 * reused. The store sets `PRAGMA secure_delete = ON` on its connection
 * (`SqliteJobStore.configureConnection`), so deleted content and freed pages
 * are written as zeros. In WAL mode those zeroed pages go to the `-wal` file
 * first, and the WAL keeps the frames written before — the rows as they were
 * — until it is checkpointed and starts over. So after a prune or a purge
 * that removed rows, the store checkpoints the WAL into the database and
 * truncates it (`PRAGMA wal_checkpoint(TRUNCATE)`).
 *
 * Best effort, never the deletion's failure: with the store's busy timeout
 * taken over (0, transaction.ts) the checkpoint waits for nobody, and while
 * another connection reads an older snapshot or writes, it copies what it
 * may and leaves the WAL as it is: the next prune or purge (the Janitor's
 * next pass) tries again, whatever it removes. SQLite also checkpoints and
 * removes the WAL when the last connection to the file closes.
 * Once per prune, and once per retention run rather than per batch: a purge
 * batch that came back full (more may follow) only marks the erasure as due,
 * the short one that ends the run checkpoints. A delete inside a caller's
 * transaction (the Janitor's pass, `ai-jobs retention`: each batch commits
 * with its summary) cannot checkpoint there — SQLite refuses while a
 * transaction is open on the connection — so the checkpoint waits for the
 * connection, which it gets once that transaction has ended.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { holdingConnection } from "./ownClient.js"

/**
 * Told after each delete of callers' content how many rows it removed and
 * whether it ends the run (a prune; a purge batch that came back short):
 * then, if anything was removed since the last checkpoint, checkpoints and
 * truncates the WAL, best effort.
 */
export type AfterErasure = (removed: number, last: boolean) => Effect.Effect<void>

/** The store's `AfterErasure`, checkpointing on `sql`'s connection outside any transaction. */
export const makeAfterErasure = (sql: SqlClient.SqlClient): AfterErasure => {
  const holding = holdingConnection(sql)
  // Rows removed since the last checkpoint that emptied the WAL.
  let due = false
  // `busy` 1: another connection held it back (a reader on an older snapshot, a writer); the next prune or purge tries again.
  const checkpoint = holding((conn) => conn.executeUnprepared("PRAGMA wal_checkpoint(TRUNCATE)", [], undefined)).pipe(
    Effect.tap((rows) => {
      if (rows[0]?.busy !== 0) due = true
    }),
    Effect.catchAllCause(() => Effect.sync(() => {
      due = true
    }))
  )
  return (removed, last) =>
    Effect.withFiberRuntime((fiber) => {
      if (removed > 0) due = true
      if (!last || !due) return Effect.void
      due = false
      const inTransaction = Context.getOption(fiber.currentContext, SqlClient.TransactionConnection)._tag === "Some"
      // Inside a caller's transaction, the connection is held until it ends: the checkpoint waits its turn.
      return inTransaction ? Effect.asVoid(Effect.forkDaemon(checkpoint)) : checkpoint
    })
}
