-- 0009: a job's own backoff (issue 15.1: the retry policy is "per kind, and
-- overridable per job"). 0007 made max_attempts a column; this is the other
-- half of the override.
--
--   backoff   NULL: the job waits between attempts as its kind's retry policy
--             says (what every row meant before). Otherwise an object with
--             every field given: {"initial": ms, "factor": >= 1, "max": ms,
--             "jitter": 0..1}, waits in milliseconds from 0 to 365 days
--             (RetryPolicy.BackoffMillis; the library writes nothing else).
--
-- Legacy rows upgrade by doing nothing: the column is NULL, "the kind's".
-- The CHECK is one inline expression that stops at `backoff IS NULL` for a
-- job without one (0008: every CHECK of ai_jobs runs on every write, so the
-- common case must cost nothing). `@@` answers NULL when a field is missing
-- or of another type, and a NULL CHECK passes: hence `IS TRUE`.
-- Replay-safe: ADD COLUMN IF NOT EXISTS; the constraint dropped and made again.

ALTER TABLE ai_jobs ADD COLUMN IF NOT EXISTS backoff jsonb;

ALTER TABLE ai_jobs
  DROP CONSTRAINT IF EXISTS ai_jobs_backoff_check,
  ADD CONSTRAINT ai_jobs_backoff_check CHECK (backoff IS NULL OR (
    jsonb_typeof(backoff) = 'object'
    AND backoff - ARRAY['initial', 'factor', 'max', 'jitter'] = '{}'::jsonb
    AND (backoff @@ '$.initial.type() == "number" && $.initial >= 0 && $.initial <= 31536000000
      && $.factor.type() == "number" && $.factor >= 1
      && $.max.type() == "number" && $.max >= 0 && $.max <= 31536000000
      && $.jitter.type() == "number" && $.jitter >= 0 && $.jitter <= 1') IS TRUE
  ));
