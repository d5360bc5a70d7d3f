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
-- An offer is announced as a job's change is (0007, 0014): on the jobs
-- channel, sent at commit and never on rollback, with "offered": true, so an
-- idle pool of the job's kind in any process looks at once instead of at its
-- next poll. Listeners that do not know the key read a running job: nothing
-- to claim.
--
-- Replay-safe: IF NOT EXISTS, CREATE OR REPLACE, DROP ... IF EXISTS before CREATE.
CREATE TABLE IF NOT EXISTS run_offers (
  run_id uuid PRIMARY KEY REFERENCES workflow_runs (id) ON DELETE CASCADE,
  job_id uuid NOT NULL REFERENCES ai_jobs (id) ON DELETE CASCADE,
  offered_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS run_offers_order_idx ON run_offers (offered_at, run_id);
CREATE INDEX IF NOT EXISTS run_offers_job_idx ON run_offers (job_id);

CREATE OR REPLACE FUNCTION ai_job_model_announce_offer() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  -- pg_notify returns void, which no variable can hold: its text ('') is kept.
  sent text;
BEGIN
  SELECT pg_notify('ai_job_model_jobs', json_build_object(
    'job_id', j.id,
    'state', j.status,
    'job_kind', j.job_kind,
    'run_after', floor(extract(epoch FROM j.run_after) * 1000)::bigint,
    'offered', true
  )::text)::text INTO sent
  FROM ai_jobs j WHERE j.id = NEW.job_id;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS run_offers_announce ON run_offers;
CREATE TRIGGER run_offers_announce
  AFTER INSERT ON run_offers
  FOR EACH ROW EXECUTE FUNCTION ai_job_model_announce_offer();
