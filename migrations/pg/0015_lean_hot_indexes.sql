-- 0015 (PostgreSQL): fewer index entries written per job (issue 16, h61;
-- SQLite's twin is its 0011). Every job-row update on the hot path changes an
-- indexed column, so none is HOT: each row version a job, its run and its
-- records write adds an entry to every index of its table. Three indexes held
-- entries no query reads; each becomes a partial index over exactly the rows
-- its queries ask for. No constraint, trigger or CHECK changes, and no query
-- loses its index: test/store/pg-lean-indexes.test.ts checks each one's plan.
--
--   ai_jobs_run_idx         a job by its run: `workflow_run_id = $1` implies
--                           IS NOT NULL (the heartbeat's and a node write's
--                           active-run check, the job list's run filter,
--                           recovery, the foreign key's ON DELETE SET NULL).
--                           A job's queued version (no run yet) was a NULL entry.
--   flight_recorder_events_run_time_idx  events by run (the recorder's run
--                           filter). A submit's records carry no run: they
--                           were NULL entries.
--   workflow_runs_running_heartbeat_idx  recovery's stale scan (R9) and
--                           findStaleRuns read running runs only, in
--                           (last_heartbeat, id) order, as 0010's index gave
--                           them. An ended run's version was an entry in the
--                           index's part no query reads.
--
-- Replay-safe: every CREATE is IF NOT EXISTS and every DROP IF EXISTS. A
-- replay (bookkeeping lost) runs 0002, 0003 and 0010 first, which make the
-- old indexes again; this file then drops them and finds its own.

DROP INDEX IF EXISTS ai_jobs_workflow_run_id_idx;
CREATE INDEX IF NOT EXISTS ai_jobs_run_idx ON ai_jobs (workflow_run_id)
  WHERE workflow_run_id IS NOT NULL;

DROP INDEX IF EXISTS flight_recorder_events_run_idx;
CREATE INDEX IF NOT EXISTS flight_recorder_events_run_time_idx ON flight_recorder_events (workflow_run_id, "timestamp")
  WHERE workflow_run_id IS NOT NULL;

DROP INDEX IF EXISTS workflow_runs_stale_scan_order_idx;
CREATE INDEX IF NOT EXISTS workflow_runs_running_heartbeat_idx ON workflow_runs (last_heartbeat, id)
  WHERE status = 'running';
