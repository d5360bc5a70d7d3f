-- 0016: runs offered to worker pools (`Jobs.resume`, `start` or `rework` with
-- `handTo: "workers"`; the CLI's and the console's resume). PostgreSQL's twin
-- has the same number.
--
-- A resumed job runs under a new run that no worker holds. An offer names that
-- run; the first pool of the job's kind, in any process, to look takes the
-- offer in a write transaction, refreshes the run's heartbeat and runs the
-- job: one pool, once. An offer whose run is no longer its job's running run
-- (recovered, cancelled, ended) is never taken; a later look deletes it. No
-- claim, submit or lifecycle statement reads this table.
--
-- No REFERENCES, and no trigger on the tables they would name: SQLite's table
-- rebuilds (0005, 0013: rename, create, copy, drop) rewrite a child's
-- REFERENCES to the renamed table, which is then dropped, and drop its
-- triggers with it. What the references would do is done without them:
-- pruning deletes a pruned job's offers in its own transaction, and an offer
-- whose job or run is gone is not current, so the next look deletes it.
--
-- Replay-safe: IF NOT EXISTS throughout.
CREATE TABLE IF NOT EXISTS run_offers (
  run_id TEXT PRIMARY KEY NOT NULL,
  job_id TEXT NOT NULL,
  offered_at TEXT NOT NULL CONSTRAINT run_offers_offered_at_form CHECK (
    length(offered_at) = 24
    AND offered_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z'
  )
);
CREATE INDEX IF NOT EXISTS run_offers_order_idx ON run_offers (offered_at, run_id);
CREATE INDEX IF NOT EXISTS run_offers_job_idx ON run_offers (job_id);
