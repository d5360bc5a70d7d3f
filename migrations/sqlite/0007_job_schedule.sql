-- 0007: the worker engine's columns (issue 15): retries, scheduled and
-- prioritised jobs.
--
--   attempt       which attempt the job is on (or last made), from 1; a retry
--                 (failed -> queued) adds one.
--   max_attempts  how many attempts the job may make in all; 1 = never retried
--                 by the engine (an operator's `retry` is always allowed).
--   run_after     the job is not claimed before this instant: its submit time,
--                 a scheduled time, or a retry's backoff. The one stored time
--                 form, like created_at.
--   priority      higher first; -32768..32767, default 0.
--
-- Legacy rows upgrade in place: one attempt of one, eligible since they were
-- created, priority 0 — what they meant before. SQLite checks each new
-- column's CHECK against the rows already there.
--
-- Replay-safe: ADD COLUMN has no IF NOT EXISTS in SQLite, so the file is
-- skipped once its last column exists (see src/store/internal/migrationGuard.ts).
-- skip-if: SELECT 1 FROM pragma_table_info('ai_jobs') WHERE name = 'priority'

ALTER TABLE ai_jobs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1
  CONSTRAINT ai_jobs_attempt_valid CHECK (typeof(attempt) = 'integer' AND attempt BETWEEN 1 AND 1000000);

ALTER TABLE ai_jobs ADD COLUMN max_attempts INTEGER NOT NULL DEFAULT 1
  CONSTRAINT ai_jobs_max_attempts_valid CHECK (typeof(max_attempts) = 'integer' AND max_attempts BETWEEN 1 AND 1000000);

-- The epoch stands for "at once" until the fill below: a column default
-- cannot name another column.
ALTER TABLE ai_jobs ADD COLUMN run_after TEXT NOT NULL DEFAULT '1970-01-01T00:00:00.000Z'
  CONSTRAINT ai_jobs_run_after_form CHECK (
    length(run_after) = 24
    AND run_after GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z'
    AND substr(run_after, 12, 2) < '24'
    AND strftime('%Y-%m-%dT%H:%M:%fZ', run_after) IS run_after
  );

ALTER TABLE ai_jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0
  CONSTRAINT ai_jobs_priority_valid CHECK (typeof(priority) = 'integer' AND priority BETWEEN -32768 AND 32767);

UPDATE ai_jobs SET run_after = created_at WHERE run_after = '1970-01-01T00:00:00.000Z';

-- The claim: among queued jobs whose time has come, the highest priority,
-- then the one eligible longest, then the oldest. A partial index: only
-- queued jobs, so it is the size of the queue, not of the history. The
-- claim's WHERE says `status = 'queued'` in these words and its ORDER BY
-- spells these columns in this order, so SQLite reads the first eligible
-- entry and stops.
CREATE INDEX IF NOT EXISTS ai_jobs_by_claim ON ai_jobs (priority DESC, run_after, created_at, id)
  WHERE status = 'queued';
