-- 0016: runs offered to worker pools (`Jobs.resume`, `start` or `rework` with
-- `handTo: "workers"`; the CLI's and the console's resume).
--
-- A resumed job runs under a new run that no worker holds. An offer names that
-- run; the first pool of the job's kind, in any process, to look takes the
-- offer under the job's lock, refreshes the run's heartbeat and runs the job:
-- one pool, once. An offer whose run is no longer its job's running run
-- (recovered, cancelled, ended) is never taken; a later look deletes it.
-- No claim, submit or lifecycle statement reads this table.
--
-- Replay-safe: IF NOT EXISTS throughout.
CREATE TABLE IF NOT EXISTS run_offers (
  run_id uuid PRIMARY KEY REFERENCES workflow_runs (id) ON DELETE CASCADE,
  job_id uuid NOT NULL REFERENCES ai_jobs (id) ON DELETE CASCADE,
  offered_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS run_offers_order_idx ON run_offers (offered_at, run_id);
CREATE INDEX IF NOT EXISTS run_offers_job_idx ON run_offers (job_id);
