-- 0009: a job's own backoff (issue 15.1: the retry policy is "per kind, and
-- overridable per job"). 0007 made max_attempts a column; this is the other
-- half of the override.
--
--   backoff   NULL: the job waits between attempts as its kind's retry policy
--             says (what every row meant before). Otherwise JSON text of an
--             object with exactly these fields: {"initial": ms, "factor": >= 1,
--             "max": ms, "jitter": 0..1}, waits in milliseconds from 0 to 365
--             days (RetryPolicy.BackoffMillis; the library writes nothing else).
--
-- Legacy rows upgrade by doing nothing: the column is NULL, "the kind's"
-- (SQLite checks the new column's CHECK against the rows already there).
-- A missing field makes its test NULL, and a NULL CHECK passes: hence `IS TRUE`.
--
-- Replay-safe: ADD COLUMN has no IF NOT EXISTS in SQLite, so the file is
-- skipped once the column exists (see src/store/internal/migrationGuard.ts).
-- skip-if: SELECT 1 FROM pragma_table_info('ai_jobs') WHERE name = 'backoff'

ALTER TABLE ai_jobs ADD COLUMN backoff TEXT
  CONSTRAINT ai_jobs_backoff_valid CHECK (backoff IS NULL OR (
    typeof(backoff) = 'text'
    AND json_valid(backoff)
    AND json_type(backoff) = 'object'
    AND json_remove(backoff, '$.initial', '$.factor', '$.max', '$.jitter') = '{}'
    AND json_type(backoff, '$.initial') IN ('integer', 'real')
    AND json_extract(backoff, '$.initial') BETWEEN 0 AND 31536000000
    AND json_type(backoff, '$.factor') IN ('integer', 'real')
    AND json_extract(backoff, '$.factor') >= 1
    AND json_extract(backoff, '$.factor') < 9e999
    AND json_type(backoff, '$.max') IN ('integer', 'real')
    AND json_extract(backoff, '$.max') BETWEEN 0 AND 31536000000
    AND json_type(backoff, '$.jitter') IN ('integer', 'real')
    AND json_extract(backoff, '$.jitter') BETWEEN 0 AND 1
  ) IS TRUE);
