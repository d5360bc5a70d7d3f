-- 0014: the same two ai_jobs triggers, less server work per lifecycle step
-- (issue 16, PostgreSQL at one worker; measured with bench/stepServerTime.ts).
-- (0013 is SQLite's alone: PostgreSQL has no file of that number.)
--
-- 1. The metrics rule (0012) skips a new row whose metrics are the zero
--    counters — every job a submit creates. Its BEFORE INSERT trigger ran the
--    PL/pgSQL rule on every INSERT; its WHEN now compares the row with the
--    zero object first, in C. Same rows refused: jsonb equality is by key
--    set and numeric value, and any value equal to the zero object (keys in
--    any order, 0.0, -0) passes the rule — nine counters, integers, in
--    range. Every other value, NULL included, runs the rule as before.
--    The constant is spelt here, not ai_job_metrics_zero(): a trigger's WHEN
--    is not planned, so a function there would run as a SQL call per row.
--
-- 2. The announcement (0007) calls pg_notify through an assignment: PL/pgSQL
--    evaluates an assignment's expression on its fast path, where PERFORM
--    starts an executor for a one-row SELECT (SPI) on every call — three
--    times a lifecycle (queued, running, completed). Same payload, same
--    channel, still sent at commit and never on rollback; the triggers and
--    their WHEN are unchanged.
--
-- Replay-safe: CREATE OR REPLACE, DROP ... IF EXISTS before CREATE.

CREATE OR REPLACE FUNCTION ai_job_model_announce_job() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  -- pg_notify returns void, which no variable can hold: its text ('') is kept.
  sent text;
BEGIN
  sent := pg_notify('ai_job_model_jobs', json_build_object(
    'job_id', NEW.id,
    'state', NEW.status,
    'job_kind', NEW.job_kind,
    'run_after', floor(extract(epoch FROM NEW.run_after) * 1000)::bigint
  )::text)::text;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS ai_jobs_metrics_check_insert ON ai_jobs;
CREATE TRIGGER ai_jobs_metrics_check_insert
  BEFORE INSERT ON ai_jobs
  FOR EACH ROW WHEN (NEW.metrics IS DISTINCT FROM '{"duration_ms": 0, "total_tokens": 0, "input_tokens": 0,
    "output_tokens": 0, "tokens_planner": 0, "tokens_executor": 0, "entities_read": 0, "entities_written": 0,
    "validators_run_count": 0}'::jsonb)
  EXECUTE FUNCTION ai_jobs_metrics_check();
