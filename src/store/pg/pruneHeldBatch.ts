/**
 * A full pruning batch on PostgreSQL (R18, `JobStore.pruneJobs` with
 * `batchSize`) that locks and reads only its batch and the keep window, not
 * every old job: locking every old prunable job in each batch made a prune of
 * N old jobs in batches of B cost O(N²/B) (100,000 in batches of 1,000 took
 * 8× one batch; bench/prunePg.ts).
 *
 * The batch locks the oldest `batchSize` old unpinned prunable jobs, in that
 * order (every pass locks in it, so two passes never lock common rows in
 * opposite orders). PostgreSQL re-checks a row it had to wait for and skips
 * it if it no longer qualifies (an operator's pin, another pass's DELETE),
 * taking the next one instead: the batch comes up short only when fewer old
 * unpinned jobs are left. Then, in a statement of its own (its snapshot is
 * after every wait), the window is read: if it reaches none of the locked
 * jobs they are exactly the oldest `batchSize` the prune would delete, and go.
 * Otherwise nothing is deleted and the caller prunes as the last batch, which
 * locks every old prunable job (there are few by then) and counts what it
 * spares from them.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import * as Effect from "effect/Effect"

/** What a batch prunes: old (before `cutoff`) jobs in a `prunable` state, outside the `kept` window. */
export interface PruneScope {
  readonly prunable: Statement.Fragment
  readonly cutoff: Statement.Fragment
  /** The window: the ids of the newest `keepNewest` unpinned prunable jobs, whatever their age. */
  readonly kept: Statement.Fragment
}

/**
 * Deletes the oldest `batchSize` old unpinned prunable jobs if there are that
 * many and the window reaches none of them: `batchSize` pruned; else 0 pruned
 * and nothing deleted (the batch is the last one). Inside the batch's transaction.
 */
export const pruneHeldBatch = (sql: SqlClient.SqlClient, scope: PruneScope, batchSize: number) =>
  Effect.gen(function*() {
    const held = yield* sql<{ readonly id: string }>`
      SELECT id FROM ai_jobs WHERE ${scope.prunable} AND updated_at < ${scope.cutoff} AND NOT is_pinned
      ORDER BY updated_at, id LIMIT ${batchSize} FOR UPDATE`
    if (held.length < batchSize) return 0
    const ids = `{${held.map((row) => row.id).join(",")}}`
    // Runs and nodes go by ON DELETE CASCADE; events have no foreign key and stay.
    const [row] = yield* sql`
      WITH kept AS (${scope.kept}), batch AS (
        SELECT id FROM unnest(${ids}::uuid[]) AS b(id)
      ), pruned AS (
        DELETE FROM ai_jobs j USING batch
        WHERE j.id = batch.id AND NOT EXISTS (SELECT 1 FROM batch JOIN kept USING (id))
        RETURNING 1
      )
      SELECT count(*) AS pruned FROM pruned`
    return Number(row?.["pruned"] ?? 0)
  })
