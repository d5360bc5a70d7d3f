-- 0019 (SQLite): a job's metrics and backoff never hold a key twice.
--
-- The CHECKs of 0013 read each counter with json_type/json_extract, which
-- take the FIRST of two equal keys; JSON.parse (the store's read) and
-- PostgreSQL's jsonb take the LAST. So a raw write such as
-- `{"total_tokens":0, ..., "total_tokens":-5}` passed the CHECK and the row
-- then read back as CorruptRow — a value the database claims to refuse, and
-- PostgreSQL does. A key given twice is now refused at INSERT and at an
-- UPDATE of the column, before the CHECK, naming the constraint the value
-- breaks. The library never writes one (JSON.stringify cannot): this only
-- refuses raw SQL. Text that is no JSON is left to the CHECK's own refusal.
--
-- Triggers, not a rebuilt CHECK: SQLite changes a CHECK only by rebuilding
-- the table (0013), and rows already stored are not judged again.
--
-- Replay-safe: each trigger dropped if it exists, then created.

DROP TRIGGER IF EXISTS ai_jobs_metrics_unique_keys_insert;
CREATE TRIGGER ai_jobs_metrics_unique_keys_insert BEFORE INSERT ON ai_jobs
WHEN json_valid(NEW.metrics)
  AND (SELECT count(*) FROM json_each(NEW.metrics)) <> (SELECT count(DISTINCT key) FROM json_each(NEW.metrics))
BEGIN
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_metrics_valid (a metric named twice)');
END;

DROP TRIGGER IF EXISTS ai_jobs_metrics_unique_keys_update;
CREATE TRIGGER ai_jobs_metrics_unique_keys_update BEFORE UPDATE OF metrics ON ai_jobs
WHEN json_valid(NEW.metrics)
  AND (SELECT count(*) FROM json_each(NEW.metrics)) <> (SELECT count(DISTINCT key) FROM json_each(NEW.metrics))
BEGIN
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_metrics_valid (a metric named twice)');
END;

DROP TRIGGER IF EXISTS ai_jobs_backoff_unique_keys_insert;
CREATE TRIGGER ai_jobs_backoff_unique_keys_insert BEFORE INSERT ON ai_jobs
WHEN NEW.backoff IS NOT NULL AND json_valid(NEW.backoff)
  AND (SELECT count(*) FROM json_each(NEW.backoff)) <> (SELECT count(DISTINCT key) FROM json_each(NEW.backoff))
BEGIN
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_backoff_valid (a field named twice)');
END;

DROP TRIGGER IF EXISTS ai_jobs_backoff_unique_keys_update;
CREATE TRIGGER ai_jobs_backoff_unique_keys_update BEFORE UPDATE OF backoff ON ai_jobs
WHEN NEW.backoff IS NOT NULL AND json_valid(NEW.backoff)
  AND (SELECT count(*) FROM json_each(NEW.backoff)) <> (SELECT count(DISTINCT key) FROM json_each(NEW.backoff))
BEGIN
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_backoff_valid (a field named twice)');
END;
