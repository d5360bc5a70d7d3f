-- 0002: upgrade the reference shape (0001) in place to the current schema.
--
-- Order: drop what was written for TEXT columns (legacy constraints and
-- defaults), normalise the data, change the column types, then add NOT NULL,
-- defaults, CHECKs, foreign keys and indexes. Every USING expression goes
-- through ::text, so it works whether a legacy column is TEXT or already the
-- right type. A value that cannot be converted fails the whole migration (it
-- runs in one transaction) and names what it could not convert: nothing is
-- ever dropped or guessed silently.
--
-- Replay-safe (issue 12.4): the conversion happens once; a database whose
-- ai_jobs already has this file's metrics constraint (or the triggers 0012
-- replaced it with) skips the file (see
-- src/store/internal/migrationGuard.ts), so running it again never drops and
-- re-adds constraints later migrations changed.
-- skip-if: SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass('ai_jobs') AND conname = 'ai_jobs_metrics_check' AND pg_get_constraintdef(oid) LIKE '%ai_job_metrics_valid(%' UNION ALL SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass('ai_jobs') AND tgname = 'ai_jobs_metrics_check_insert'

-- timestamptz -> text casts below must give ISO text whatever the server's DateStyle.
SET LOCAL datestyle = 'ISO, YMD';

-- Helpers ---------------------------------------------------------------------

-- The zeroed metrics of a fresh job (R4, HSK-JOB-101).
CREATE FUNCTION ai_job_metrics_zero() RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT '{"duration_ms": 0, "total_tokens": 0, "input_tokens": 0, "output_tokens": 0,
           "tokens_planner": 0, "tokens_executor": 0, "entities_read": 0,
           "entities_written": 0, "validators_run_count": 0}'::jsonb
$$;

-- Whether a metrics value is an object whose nine counters are all integers
-- in range: duration_ms up to 2^53-1 (what a JavaScript number holds exactly),
-- the rest up to 2^32-1 (the reference's u32). CASE keeps the numeric casts
-- from ever seeing a non-number.
CREATE FUNCTION ai_job_metrics_valid(metrics jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN metrics IS NULL OR jsonb_typeof(metrics) <> 'object' THEN false
    ELSE (
      SELECT bool_and(
        CASE WHEN jsonb_typeof(metrics -> f.name) = 'number' THEN
          (metrics ->> f.name)::numeric BETWEEN 0 AND f.max
          AND (metrics ->> f.name)::numeric = trunc((metrics ->> f.name)::numeric)
        ELSE false END)
      FROM (VALUES
        ('duration_ms', 9007199254740991::numeric),
        ('total_tokens', 4294967295), ('input_tokens', 4294967295),
        ('output_tokens', 4294967295), ('tokens_planner', 4294967295),
        ('tokens_executor', 4294967295), ('entities_read', 4294967295),
        ('entities_written', 4294967295), ('validators_run_count', 4294967295)
      ) AS f(name, max)
    )
  END
$$;

-- Legacy timestamp text -> timestamptz, truncated to the millisecond the
-- domain keeps. Zone-less text (SQLite's CURRENT_TIMESTAMP form,
-- 'YYYY-MM-DD HH:MM:SS') is UTC: it gets an explicit +00, because a zone-less
-- cast would silently use the session TimeZone. RFC 3339 text (and the ::text
-- of a column that is already timestamptz) carries its own offset. A fraction
-- finer than the millisecond is cut in the text first: the cast would round
-- it to microseconds (`.9999995` into the next second), and SQLite's upgrade
-- cuts the same text to the same three digits.
CREATE FUNCTION ai_job_model_legacy_instant(value text, source text) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
DECLARE
  parsed timestamptz;
  cut text := regexp_replace(value, '^([0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3})[0-9]+', '\1');
BEGIN
  IF value IS NULL THEN
    RETURN NULL;
  ELSIF value ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?$' THEN
    parsed := (cut || '+00')::timestamptz;
  ELSIF value ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}(:?[0-9]{2}){0,2})$' THEN
    parsed := cut::timestamptz;
  ELSE
    RAISE EXCEPTION 'cannot convert %: % is not a timestamp in a known legacy form', source, quote_literal(value)
      USING HINT = 'Expected YYYY-MM-DD HH:MM:SS (UTC) or RFC 3339 text. Fix the row, then migrate again.';
  END IF;
  -- Truncate in UTC, so no DST rule of the session zone can shift the instant.
  RETURN date_trunc('milliseconds', parsed AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
END
$$;

-- Legacy JSON text -> jsonb: SQL NULL, '' and JSON null all mean "absent".
CREATE FUNCTION ai_job_model_legacy_json(value text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT NULLIF(NULLIF(value, ''), 'null')::jsonb
$$;

-- Columns some reference versions never had -----------------------------------

ALTER TABLE ai_jobs
  ADD COLUMN IF NOT EXISTS status_reason TEXT,
  ADD COLUMN IF NOT EXISTS error_message TEXT,
  ADD COLUMN IF NOT EXISTS entity_refs TEXT,
  ADD COLUMN IF NOT EXISTS planned_operations TEXT,
  ADD COLUMN IF NOT EXISTS metrics TEXT,
  ADD COLUMN IF NOT EXISTS job_inputs TEXT,
  ADD COLUMN IF NOT EXISTS job_outputs TEXT,
  ADD COLUMN IF NOT EXISTS is_pinned INTEGER;
ALTER TABLE workflow_runs ADD COLUMN IF NOT EXISTS error_message TEXT;

-- Tables we do not own may reference ours: the reference's own migration 0014
-- adds ai_job_mcp_fields (job_id TEXT REFERENCES ai_jobs(id)). Their foreign
-- keys would block the type changes below; they are kept aside here, dropped,
-- and put back at the end of this file, their columns converted to the types
-- they reference by then (a value that is no UUID fails the upgrade loudly).
CREATE TEMP TABLE hsk_foreign_references ON COMMIT DROP AS
  SELECT conrelid, conname, pg_get_constraintdef(oid) AS definition, conkey, confrelid, confkey
  FROM pg_constraint
  WHERE contype = 'f'
    AND confrelid IN ('ai_jobs'::regclass, 'workflow_runs'::regclass, 'workflow_node_executions'::regclass)
    AND conrelid NOT IN ('ai_jobs'::regclass, 'workflow_runs'::regclass, 'workflow_node_executions'::regclass);

-- Legacy constraints were written for TEXT columns and would block the type
-- changes; ours replace them below. Foreign keys go first (they depend on the
-- unique constraints). Primary keys stay.
DO $$
DECLARE
  legacy record;
BEGIN
  FOR legacy IN SELECT conrelid::regclass AS tbl, conname FROM hsk_foreign_references LOOP
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', legacy.tbl, legacy.conname);
  END LOOP;
  FOR legacy IN
    SELECT conrelid::regclass AS tbl, conname
    FROM pg_constraint
    WHERE conrelid IN ('ai_jobs'::regclass, 'workflow_runs'::regclass, 'workflow_node_executions'::regclass)
      AND contype IN ('f', 'c', 'u')
    ORDER BY contype = 'f' DESC
  LOOP
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I', legacy.tbl, legacy.conname);
  END LOOP;
  -- Foreign keys need a key on the referenced side.
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'ai_jobs'::regclass AND contype = 'p') THEN
    ALTER TABLE ai_jobs ADD PRIMARY KEY (id);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'workflow_runs'::regclass AND contype = 'p') THEN
    ALTER TABLE workflow_runs ADD PRIMARY KEY (id);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'workflow_node_executions'::regclass AND contype = 'p') THEN
    ALTER TABLE workflow_node_executions ADD PRIMARY KEY (id);
  END IF;
END
$$;

-- A legacy default (a TEXT CURRENT_TIMESTAMP, a '{}' string) cannot be cast to the new types.
ALTER TABLE ai_jobs
  ALTER COLUMN id DROP DEFAULT,
  ALTER COLUMN trace_id DROP DEFAULT,
  ALTER COLUMN workflow_run_id DROP DEFAULT,
  ALTER COLUMN entity_refs DROP DEFAULT,
  ALTER COLUMN planned_operations DROP DEFAULT,
  ALTER COLUMN metrics DROP DEFAULT,
  ALTER COLUMN job_inputs DROP DEFAULT,
  ALTER COLUMN job_outputs DROP DEFAULT,
  ALTER COLUMN is_pinned DROP DEFAULT,
  ALTER COLUMN created_at DROP DEFAULT,
  ALTER COLUMN updated_at DROP DEFAULT;
ALTER TABLE workflow_runs
  ALTER COLUMN id DROP DEFAULT,
  ALTER COLUMN job_id DROP DEFAULT,
  ALTER COLUMN last_heartbeat DROP DEFAULT,
  ALTER COLUMN created_at DROP DEFAULT,
  ALTER COLUMN updated_at DROP DEFAULT;
ALTER TABLE workflow_node_executions
  ALTER COLUMN id DROP DEFAULT,
  ALTER COLUMN workflow_run_id DROP DEFAULT,
  ALTER COLUMN sequence DROP DEFAULT,
  ALTER COLUMN input_payload DROP DEFAULT,
  ALTER COLUMN output_payload DROP DEFAULT,
  ALTER COLUMN started_at DROP DEFAULT,
  ALTER COLUMN finished_at DROP DEFAULT;

-- Normalise legacy kinds (R1a, R1b, R16): no legacy string stays stranded ---

UPDATE ai_jobs SET job_kind = 'terminal_exec' WHERE job_kind::text = 'term_exec';
UPDATE ai_jobs SET job_kind = 'doc_summarize' WHERE job_kind::text = 'doc_test';
UPDATE ai_jobs SET job_kind = 'workflow_run', protocol_id = 'hsk.governance_pack.export.v0'
  WHERE job_kind::text = 'governance_pack_export';

-- Types, with the remaining data normalisation in the USING expressions ---------

ALTER TABLE ai_jobs
  ALTER COLUMN id TYPE uuid USING id::text::uuid,
  ALTER COLUMN trace_id TYPE uuid USING trace_id::text::uuid,
  ALTER COLUMN workflow_run_id TYPE uuid USING NULLIF(workflow_run_id::text, '')::uuid,
  ALTER COLUMN job_kind TYPE text USING job_kind::text,
  ALTER COLUMN status TYPE text USING status::text,
  ALTER COLUMN status_reason TYPE text USING COALESCE(status_reason::text, ''),
  ALTER COLUMN error_message TYPE text USING error_message::text,
  ALTER COLUMN protocol_id TYPE text USING protocol_id::text,
  ALTER COLUMN profile_id TYPE text USING profile_id::text,
  ALTER COLUMN capability_profile_id TYPE text USING capability_profile_id::text,
  ALTER COLUMN access_mode TYPE text USING access_mode::text,
  ALTER COLUMN safety_mode TYPE text USING safety_mode::text,
  ALTER COLUMN entity_refs TYPE jsonb
    USING COALESCE(ai_job_model_legacy_json(entity_refs::text), '[]'::jsonb),
  ALTER COLUMN planned_operations TYPE jsonb
    USING COALESCE(ai_job_model_legacy_json(planned_operations::text), '[]'::jsonb),
  -- NULL/empty metrics become the zero object; missing or null counters become 0.
  ALTER COLUMN metrics TYPE jsonb
    USING ai_job_metrics_zero() || jsonb_strip_nulls(COALESCE(ai_job_model_legacy_json(metrics::text), '{}'::jsonb)),
  ALTER COLUMN job_inputs TYPE jsonb USING ai_job_model_legacy_json(job_inputs::text),
  ALTER COLUMN job_outputs TYPE jsonb USING ai_job_model_legacy_json(job_outputs::text),
  -- '1'/'0' (the reference's INTEGER), 'true'/'false', or NULL (not pinned).
  ALTER COLUMN is_pinned TYPE boolean USING COALESCE(is_pinned::text, 'false')::boolean,
  ALTER COLUMN created_at TYPE timestamptz
    USING ai_job_model_legacy_instant(created_at::text, 'ai_jobs.created_at of ' || id::text),
  ALTER COLUMN updated_at TYPE timestamptz
    USING ai_job_model_legacy_instant(updated_at::text, 'ai_jobs.updated_at of ' || id::text);

ALTER TABLE workflow_runs
  ALTER COLUMN id TYPE uuid USING id::text::uuid,
  ALTER COLUMN job_id TYPE uuid USING job_id::text::uuid,
  ALTER COLUMN status TYPE text USING status::text,
  ALTER COLUMN error_message TYPE text USING error_message::text,
  ALTER COLUMN last_heartbeat TYPE timestamptz
    USING ai_job_model_legacy_instant(last_heartbeat::text, 'workflow_runs.last_heartbeat of ' || id::text),
  ALTER COLUMN created_at TYPE timestamptz
    USING ai_job_model_legacy_instant(created_at::text, 'workflow_runs.created_at of ' || id::text),
  ALTER COLUMN updated_at TYPE timestamptz
    USING ai_job_model_legacy_instant(updated_at::text, 'workflow_runs.updated_at of ' || id::text);

ALTER TABLE workflow_node_executions
  ALTER COLUMN id TYPE uuid USING id::text::uuid,
  ALTER COLUMN workflow_run_id TYPE uuid USING workflow_run_id::text::uuid,
  ALTER COLUMN node_id TYPE text USING node_id::text,
  ALTER COLUMN node_type TYPE text USING node_type::text,
  ALTER COLUMN status TYPE text USING status::text,
  ALTER COLUMN sequence TYPE integer USING sequence::text::integer,
  ALTER COLUMN input_payload TYPE jsonb USING ai_job_model_legacy_json(input_payload::text),
  ALTER COLUMN output_payload TYPE jsonb USING ai_job_model_legacy_json(output_payload::text),
  ALTER COLUMN error_message TYPE text USING error_message::text,
  ALTER COLUMN started_at TYPE timestamptz
    USING ai_job_model_legacy_instant(started_at::text, 'workflow_node_executions.started_at of ' || id::text),
  ALTER COLUMN finished_at TYPE timestamptz
    USING ai_job_model_legacy_instant(finished_at::text, 'workflow_node_executions.finished_at of ' || id::text);

-- Only needed for the conversion above.
DROP FUNCTION ai_job_model_legacy_instant(text, text);
DROP FUNCTION ai_job_model_legacy_json(text);

-- The database enforces the domain (R16) -------------------------------------

ALTER TABLE ai_jobs
  ALTER COLUMN trace_id SET NOT NULL,
  ALTER COLUMN job_kind SET NOT NULL,
  ALTER COLUMN status SET NOT NULL,
  ALTER COLUMN status_reason SET DEFAULT '',
  ALTER COLUMN status_reason SET NOT NULL,
  ALTER COLUMN protocol_id SET NOT NULL,
  ALTER COLUMN profile_id SET NOT NULL,
  ALTER COLUMN capability_profile_id SET NOT NULL,
  ALTER COLUMN access_mode SET NOT NULL,
  ALTER COLUMN safety_mode SET NOT NULL,
  ALTER COLUMN entity_refs SET DEFAULT '[]',
  ALTER COLUMN entity_refs SET NOT NULL,
  ALTER COLUMN planned_operations SET DEFAULT '[]',
  ALTER COLUMN planned_operations SET NOT NULL,
  ALTER COLUMN metrics SET DEFAULT ai_job_metrics_zero(),
  ALTER COLUMN metrics SET NOT NULL,
  ALTER COLUMN is_pinned SET DEFAULT false,
  ALTER COLUMN is_pinned SET NOT NULL,
  ALTER COLUMN created_at SET NOT NULL,
  ALTER COLUMN updated_at SET NOT NULL,
  ADD CONSTRAINT ai_jobs_job_kind_check CHECK (job_kind IN (
    'doc_edit', 'doc_rewrite', 'doc_summarize', 'sheet_transform', 'canvas_cluster', 'asr_transcribe',
    'workflow_run', 'spec_router', 'debug_bundle_export', 'terminal_exec', 'doc_ingest', 'distillation_eval')),
  ADD CONSTRAINT ai_jobs_status_check CHECK (status IN (
    'queued', 'running', 'stalled', 'awaiting_validation', 'awaiting_user',
    'completed', 'completed_with_issues', 'failed', 'cancelled', 'poisoned')),
  ADD CONSTRAINT ai_jobs_access_mode_check CHECK (access_mode IN ('analysis_only', 'preview_only', 'apply_scoped')),
  ADD CONSTRAINT ai_jobs_safety_mode_check CHECK (safety_mode IN ('strict', 'normal', 'experimental')),
  ADD CONSTRAINT ai_jobs_entity_refs_check CHECK (jsonb_typeof(entity_refs) = 'array'),
  ADD CONSTRAINT ai_jobs_planned_operations_check CHECK (jsonb_typeof(planned_operations) = 'array'),
  ADD CONSTRAINT ai_jobs_metrics_check CHECK (ai_job_metrics_valid(metrics));

ALTER TABLE workflow_runs
  ALTER COLUMN job_id SET NOT NULL,
  ALTER COLUMN status SET NOT NULL,
  ALTER COLUMN last_heartbeat SET NOT NULL,
  ALTER COLUMN created_at SET NOT NULL,
  ALTER COLUMN updated_at SET NOT NULL,
  ADD CONSTRAINT workflow_runs_status_check CHECK (status IN (
    'queued', 'running', 'stalled', 'awaiting_validation', 'awaiting_user',
    'completed', 'completed_with_issues', 'failed', 'cancelled', 'poisoned'));

ALTER TABLE workflow_node_executions
  ALTER COLUMN workflow_run_id SET NOT NULL,
  ALTER COLUMN node_id SET NOT NULL,
  ALTER COLUMN node_type SET NOT NULL,
  ALTER COLUMN status SET NOT NULL,
  ALTER COLUMN sequence SET NOT NULL,
  ALTER COLUMN started_at SET NOT NULL,
  -- Any job state: the reference stores a node's status as its JobState.
  ADD CONSTRAINT workflow_node_executions_status_check CHECK (status IN (
    'queued', 'running', 'stalled', 'awaiting_validation', 'awaiting_user',
    'completed', 'completed_with_issues', 'failed', 'cancelled', 'poisoned')),
  ADD CONSTRAINT workflow_node_executions_sequence_check CHECK (sequence >= 0),
  -- Also the index for listing a run's nodes in order.
  ADD CONSTRAINT workflow_node_executions_run_sequence_key UNIQUE (workflow_run_id, sequence);

-- Foreign keys. ai_jobs.workflow_run_id and workflow_runs.job_id form a cycle:
-- deleting a job cascades to its runs, whose deletion clears the pointer.
ALTER TABLE workflow_runs ADD CONSTRAINT workflow_runs_job_id_fkey
  FOREIGN KEY (job_id) REFERENCES ai_jobs (id) ON DELETE CASCADE;
ALTER TABLE ai_jobs ADD CONSTRAINT ai_jobs_workflow_run_id_fkey
  FOREIGN KEY (workflow_run_id) REFERENCES workflow_runs (id) ON DELETE SET NULL;
ALTER TABLE workflow_node_executions ADD CONSTRAINT workflow_node_executions_workflow_run_id_fkey
  FOREIGN KEY (workflow_run_id) REFERENCES workflow_runs (id) ON DELETE CASCADE;

-- The other tables' foreign keys kept aside above, put back: each referencing
-- column converted to the type it now references, then the constraint as it was.
DO $$
DECLARE
  kept record;
  i int;
  referencing text;
  from_type text;
  to_type text;
BEGIN
  FOR kept IN SELECT * FROM hsk_foreign_references LOOP
    FOR i IN 1 .. array_length(kept.conkey, 1) LOOP
      SELECT attname, format_type(atttypid, atttypmod) INTO referencing, from_type
        FROM pg_attribute WHERE attrelid = kept.conrelid AND attnum = kept.conkey[i];
      SELECT format_type(atttypid, atttypmod) INTO to_type
        FROM pg_attribute WHERE attrelid = kept.confrelid AND attnum = kept.confkey[i];
      IF from_type <> to_type THEN
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I TYPE %s USING %I::text::%s',
          kept.conrelid::regclass, referencing, to_type, referencing, to_type);
      END IF;
    END LOOP;
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', kept.conrelid::regclass, kept.conname, kept.definition);
  END LOOP;
END
$$;

-- Indexes for every query the store runs ---------------------------------------

CREATE INDEX ai_jobs_created_idx ON ai_jobs (created_at, id);
CREATE INDEX ai_jobs_status_created_idx ON ai_jobs (status, created_at, id);
CREATE INDEX ai_jobs_kind_created_idx ON ai_jobs (job_kind, created_at, id);
CREATE INDEX ai_jobs_trace_id_idx ON ai_jobs (trace_id);
CREATE INDEX ai_jobs_workflow_run_id_idx ON ai_jobs (workflow_run_id);
CREATE INDEX workflow_runs_stale_scan_idx ON workflow_runs (status, last_heartbeat);
CREATE INDEX workflow_runs_job_id_idx ON workflow_runs (job_id);
