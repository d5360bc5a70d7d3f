-- 0007: the worker engine's columns (issue 15): retries, scheduled and
-- prioritised jobs.
--
--   attempt       which attempt the job is on (or last made), from 1; a retry
--                 (failed -> queued) adds one.
--   max_attempts  how many attempts the job may make in all; 1 = never retried
--                 by the engine (an operator's `retry` is always allowed).
--   run_after     the job is not claimed before this instant: its submit time,
--                 a scheduled time, or a retry's backoff.
--   priority      higher first; -32768..32767, default 0.
--
-- Legacy rows upgrade in place: one attempt of one, eligible since they were
-- created, priority 0 — what they meant before. Replay-safe: each ADD COLUMN
-- says IF NOT EXISTS; the fill touches only rows still at the placeholder
-- default (a row written by the engine always has run_after >= created_at,
-- so the fill leaves it as it is); the constraints are dropped and made
-- again, identically; the index is made if it is missing; the announcing
-- function is replaced and its triggers dropped and made again.

ALTER TABLE ai_jobs
  ADD COLUMN IF NOT EXISTS attempt integer NOT NULL DEFAULT 1,
  ADD COLUMN IF NOT EXISTS max_attempts integer NOT NULL DEFAULT 1,
  -- The epoch stands for "at once" until the fill below: a column default
  -- cannot name another column.
  ADD COLUMN IF NOT EXISTS run_after timestamptz NOT NULL DEFAULT '1970-01-01T00:00:00Z',
  ADD COLUMN IF NOT EXISTS priority integer NOT NULL DEFAULT 0;

UPDATE ai_jobs SET run_after = created_at
WHERE run_after = '1970-01-01T00:00:00Z' AND created_at > run_after;

ALTER TABLE ai_jobs
  DROP CONSTRAINT IF EXISTS ai_jobs_attempt_check,
  ADD CONSTRAINT ai_jobs_attempt_check CHECK (attempt BETWEEN 1 AND 1000000),
  DROP CONSTRAINT IF EXISTS ai_jobs_max_attempts_check,
  ADD CONSTRAINT ai_jobs_max_attempts_check CHECK (max_attempts BETWEEN 1 AND 1000000),
  DROP CONSTRAINT IF EXISTS ai_jobs_priority_check,
  ADD CONSTRAINT ai_jobs_priority_check CHECK (priority BETWEEN -32768 AND 32767),
  -- Stored instants are 1970-9999, as the store clamps every other time bound.
  DROP CONSTRAINT IF EXISTS ai_jobs_run_after_check,
  ADD CONSTRAINT ai_jobs_run_after_check CHECK (
    run_after >= '1970-01-01T00:00:00Z' AND run_after < '10000-01-01T00:00:00Z');

-- The claim: among queued jobs whose time has come, the highest priority,
-- then the one eligible longest, then the oldest. Only queued jobs are in the
-- index, so it stays the size of the queue, not of the history; the claim's
-- ORDER BY spells these columns in this order, so a claim reads the first
-- eligible entry and stops (see bench/claim-plan.md for the plan at a
-- million queued jobs).
CREATE INDEX IF NOT EXISTS ai_jobs_claim_idx ON ai_jobs (priority DESC, run_after, created_at, id)
  WHERE status = 'queued';

-- Wake-up (issue 15.3): every new job and every change of a job's state is
-- announced on the channel `ai_job_model_jobs`, from the same transaction, so
-- it is delivered when that transaction commits and never for one that rolls
-- back — whoever wrote the row (this library in any process, an operator's
-- SQL). Idle workers LISTEN (on a session connection of their own: see
-- WakeUp.ts) and claim at once instead of at their next poll; a scheduled or
-- retried job's run_after tells them when it becomes eligible.
CREATE OR REPLACE FUNCTION ai_job_model_announce_job() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('ai_job_model_jobs', json_build_object(
    'job_id', NEW.id,
    'state', NEW.status,
    'job_kind', NEW.job_kind,
    'run_after', floor(extract(epoch FROM NEW.run_after) * 1000)::bigint
  )::text);
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS ai_jobs_announce_insert ON ai_jobs;
CREATE TRIGGER ai_jobs_announce_insert AFTER INSERT ON ai_jobs
  FOR EACH ROW EXECUTE FUNCTION ai_job_model_announce_job();

DROP TRIGGER IF EXISTS ai_jobs_announce_state ON ai_jobs;
CREATE TRIGGER ai_jobs_announce_state AFTER UPDATE OF status, run_after ON ai_jobs
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.run_after IS DISTINCT FROM NEW.run_after)
  EXECUTE FUNCTION ai_job_model_announce_job();
