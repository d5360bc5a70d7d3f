-- The metrics rule as a trigger on the metrics column (issue 16: "move a
-- costly CHECK to a trigger that fires only when the column changes").
--
-- PostgreSQL evaluates every CHECK of a table on every INSERT and UPDATE,
-- whatever columns the UPDATE sets. ai_jobs_metrics_check (0002, body
-- rewritten by 0008) calls ai_job_metrics_valid, a PL/pgSQL function over nine
-- counters: ~8 us per row — paid by every claim, heartbeat-free state move,
-- and by recovery's UPDATE of 10k job rows, none of which touch metrics.
-- Here the same rule runs only when a row is inserted or its metrics change:
-- an INSERT always, an UPDATE only when the new value is distinct from the
-- old (a trigger's WHEN cannot read OLD on INSERT, hence two triggers over
-- one function).
--
-- What callers see does not change: a refusal is still SQLSTATE 23514
-- (check_violation) naming the constraint ai_jobs_metrics_check, on the
-- table ai_jobs, column metrics, with PostgreSQL's own CHECK message. What
-- does change: the rule is no longer listed in pg_constraint, and is
-- disabled with DROP TRIGGER (or ALTER TABLE ... DISABLE TRIGGER), not DROP
-- CONSTRAINT. 0002's skip-if recognises these triggers as well as the old
-- CHECK, so a replay never re-runs 0002 over a migrated database.
--
-- A BEFORE trigger sees the row as the statement wrote it; PostgreSQL runs
-- BEFORE triggers in name order and ai_jobs has no other BEFORE trigger that
-- could rewrite metrics after this one.
--
-- Rows already stored: when the old CHECK was there and validated, every row
-- passed the same rule (0008 kept it unchanged); otherwise (a replay after
-- this file, or a database where the CHECK was dropped) every row is checked
-- once here and the migration fails naming the first bad row.
--
-- Replay-safe: CREATE OR REPLACE, DROP ... IF EXISTS before CREATE.

CREATE OR REPLACE FUNCTION ai_jobs_metrics_check() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- NULL is left to the column's NOT NULL (23502), checked after this trigger.
  IF NEW.metrics IS NOT NULL AND NOT ai_job_metrics_valid(NEW.metrics) THEN
    RAISE EXCEPTION 'new row for relation "%" violates check constraint "ai_jobs_metrics_check"', TG_TABLE_NAME
      USING ERRCODE = 'check_violation', CONSTRAINT = 'ai_jobs_metrics_check',
        SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME, COLUMN = 'metrics',
        DETAIL = format('Failing row has id %s and metrics %s.', NEW.id, NEW.metrics);
  END IF;
  RETURN NEW;
END
$$;

DO $$
DECLARE
  bad uuid;
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM pg_constraint
    WHERE conrelid = 'ai_jobs'::regclass AND conname = 'ai_jobs_metrics_check' AND contype = 'c' AND convalidated
  ) THEN
    SELECT id INTO bad FROM ai_jobs WHERE ai_job_metrics_valid(metrics) IS NOT TRUE LIMIT 1;
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION 'ai_jobs row % has metrics that break the metrics rule', bad
        USING ERRCODE = 'check_violation', CONSTRAINT = 'ai_jobs_metrics_check', TABLE = 'ai_jobs', COLUMN = 'metrics';
    END IF;
  END IF;
END
$$;

ALTER TABLE ai_jobs DROP CONSTRAINT IF EXISTS ai_jobs_metrics_check;

DROP TRIGGER IF EXISTS ai_jobs_metrics_check_insert ON ai_jobs;
CREATE TRIGGER ai_jobs_metrics_check_insert
  BEFORE INSERT ON ai_jobs
  FOR EACH ROW EXECUTE FUNCTION ai_jobs_metrics_check();

DROP TRIGGER IF EXISTS ai_jobs_metrics_check_update ON ai_jobs;
CREATE TRIGGER ai_jobs_metrics_check_update
  BEFORE UPDATE OF metrics ON ai_jobs
  FOR EACH ROW WHEN (OLD.metrics IS DISTINCT FROM NEW.metrics)
  EXECUTE FUNCTION ai_jobs_metrics_check();
