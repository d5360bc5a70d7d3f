-- The metrics rule off the hot path (issue 16). PostgreSQL evaluates every
-- CHECK of ai_jobs on every write, and ai_job_metrics_valid as 0002 wrote it
-- (a SQL function over a VALUES list with bool_and, which the planner cannot
-- inline) went through the SQL-function executor each time: ~170-195 us of
-- server time per write, three times per job.
--
-- The same rule as one PL/pgSQL expression: PL/pgSQL plans it once per
-- session and evaluates it on its fast path, so a write that keeps its
-- metrics pays about what it pays with no rule at all (bench/metricsCheck.ts:
-- side by side, the 0002 body ~2x the floor, this body at the floor).
--
-- Why still a CHECK and not a trigger on UPDATE OF metrics: the rule stays the
-- constraint ai_jobs_metrics_check, CHECK (ai_job_metrics_valid(metrics)) —
-- a refusal is SQLSTATE 23514 naming it, pg_constraint lists it, ALTER TABLE
-- ... DROP CONSTRAINT removes it, and 0002's skip-if still recognises it. A
-- constraint trigger cannot be dropped with DROP CONSTRAINT; a plain trigger
-- is not a constraint at all.
--
-- Same rule, so every row that passed the old body passes this one: nothing
-- to revalidate. Replay-safe: CREATE OR REPLACE, same signatures.

-- One counter: a JSON number, an integer, between 0 and max. CASE keeps the
-- numeric casts from ever seeing a non-number; a missing field is NULL -> false.
CREATE OR REPLACE FUNCTION ai_job_metric_valid(value jsonb, max numeric) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN jsonb_typeof(value) = 'number'
    THEN value::numeric BETWEEN 0 AND max AND value::numeric = trunc(value::numeric)
    ELSE false END
$$;

-- Whether a metrics value is an object whose nine counters are all integers
-- in range: duration_ms up to 2^53-1 (what a JavaScript number holds exactly),
-- the rest up to 2^32-1 (the reference's u32).
CREATE OR REPLACE FUNCTION ai_job_metrics_valid(metrics jsonb) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  RETURN CASE WHEN jsonb_typeof(metrics) IS DISTINCT FROM 'object' THEN false ELSE
    ai_job_metric_valid(metrics -> 'duration_ms', 9007199254740991)
    AND ai_job_metric_valid(metrics -> 'total_tokens', 4294967295)
    AND ai_job_metric_valid(metrics -> 'input_tokens', 4294967295)
    AND ai_job_metric_valid(metrics -> 'output_tokens', 4294967295)
    AND ai_job_metric_valid(metrics -> 'tokens_planner', 4294967295)
    AND ai_job_metric_valid(metrics -> 'tokens_executor', 4294967295)
    AND ai_job_metric_valid(metrics -> 'entities_read', 4294967295)
    AND ai_job_metric_valid(metrics -> 'entities_written', 4294967295)
    AND ai_job_metric_valid(metrics -> 'validators_run_count', 4294967295)
  END;
END
$$;
