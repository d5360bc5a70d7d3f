-- 0011 (SQLite): fewer index pages written per job (issue 16). A job writes
-- its row, a run row and four event rows; every index entry they add, move
-- or remove dirties a 4 KB page that the commit writes to the WAL (and
-- fsyncs at "full"): 63 WAL frames a job before this file
-- (bench/sqliteReplay.ts). Four indexes held entries that no query reads;
-- each becomes a partial index over exactly the rows its queries ask for.
-- No constraint, trigger or CHECK changes, and no query loses its index:
-- test/store/sqlite-lean-indexes.test.ts checks each query's plan.
--
-- Each query below spells its index's WHERE in these exact words (SQLite
-- uses a partial index only when the query's WHERE implies the index's):
--
--   ai_jobs_by_run            a job's active run. `workflow_run_id = ?` and
--                             `workflow_run_id IN (...)` imply IS NOT NULL.
--                             Queued jobs (no run yet) were all NULL entries.
--                             Also the foreign key's child lookup when a run
--                             is deleted (ON DELETE SET NULL).
--   ai_jobs_prunable_by_updated  pruning (R18) reads prunable jobs only, newest
--                             update first; the old (status, updated_at, id)
--                             index moved every job on each status change.
--                             The list is Lifecycle.prunableStates, in this
--                             order (src/store/sqlite/workers.ts spells it).
--   workflow_runs_running_by_heartbeat  recovery's stale scan (R9) reads
--                             running runs only, in (last_heartbeat, id)
--                             order; finished runs left the old index's
--                             'running' part for another part of it.
--   flight_recorder_events_by_run_time  events by run: a job's submit-time
--                             events have no run and were all NULL entries.
--
-- Replay-safe: every CREATE is IF NOT EXISTS and every DROP IF EXISTS, so a
-- replay (bookkeeping lost) finds the new indexes and no old one, and does
-- nothing.

DROP INDEX IF EXISTS ai_jobs_by_workflow_run;
CREATE INDEX IF NOT EXISTS ai_jobs_by_run ON ai_jobs (workflow_run_id)
  WHERE workflow_run_id IS NOT NULL;

DROP INDEX IF EXISTS ai_jobs_by_status_updated;
CREATE INDEX IF NOT EXISTS ai_jobs_prunable_by_updated ON ai_jobs (updated_at, id)
  WHERE status IN ('completed', 'completed_with_issues', 'cancelled', 'poisoned', 'failed');

DROP INDEX IF EXISTS workflow_runs_by_status_heartbeat;
CREATE INDEX IF NOT EXISTS workflow_runs_running_by_heartbeat ON workflow_runs (last_heartbeat, id)
  WHERE status = 'running';

DROP INDEX IF EXISTS flight_recorder_events_by_run;
CREATE INDEX IF NOT EXISTS flight_recorder_events_by_run_time ON flight_recorder_events (workflow_run_id, timestamp)
  WHERE workflow_run_id IS NOT NULL;
