-- Upgrades the reference shape (0001) in place to the current schema (SPEC R16, R16a).
--
-- SQLite can add CHECKs and foreign keys only by rebuilding a table. The
-- Migrator runs every pending migration inside one transaction, with foreign
-- keys off and renames that leave every REFERENCES naming the table it named
-- (sqlite/migrations.ts: with them on, a table of the reference's we do not
-- own, its 0014 `ai_job_mcp_fields`, lost its rows to the drop's cascade);
-- foreign_key_check as this file ends refuses any reference left dangling.
-- The rebuild:
--   1. rename every legacy table first (references keep their names: the
--      legacy children point at the new parents, and are only read);
--   2. create the new tables (new points at new);
--   3. copy parent -> child: jobs (without their run pointer), runs, the job's
--      run pointer, node executions;
--   4. drop the legacy tables child -> parent (DROP TABLE deletes the rows
--      first, and a parent must have no children left when it goes).
--
-- Conversions: legacy kinds are normalised, NULL/empty/JSON-null metrics become
-- the zero object and missing metric fields 0, NULL arrays '[]', and timestamps in
-- either legacy form (`YYYY-MM-DD HH:MM:SS`, which is UTC, or RFC 3339 with any
-- offset) become the one stored form `YYYY-MM-DDTHH:MM:SS.sssZ`. A value that
-- cannot be converted is copied as it is, so the new table's constraint
-- refuses it and the whole migration fails loudly, naming the constraint.
-- Nothing is ever dropped silently: row counts stay the same.
--
-- Replay-safe (issue 12.4): the rebuild converts a legacy shape once; a
-- database whose ai_jobs already has this file's constraints skips the file
-- (see src/store/internal/migrationGuard.ts), so running it again can never
-- rebuild a table from this older definition.
-- skip-if: SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ai_jobs' AND sql LIKE '%CONSTRAINT ai_jobs_metrics_valid CHECK%'

-- 1. Rename the legacy tables.
ALTER TABLE workflow_node_executions RENAME TO legacy_workflow_node_executions;
ALTER TABLE workflow_runs RENAME TO legacy_workflow_runs;
ALTER TABLE ai_jobs RENAME TO legacy_ai_jobs;

-- 2. The current tables.
CREATE TABLE ai_jobs (
  id TEXT PRIMARY KEY NOT NULL,
  trace_id TEXT NOT NULL,
  -- Checked immediately: rows are copied before their runs exist, so the
  -- pointer is filled in after the runs (step 3).
  workflow_run_id TEXT REFERENCES workflow_runs (id) ON DELETE SET NULL,
  job_kind TEXT NOT NULL CONSTRAINT ai_jobs_job_kind_valid CHECK (job_kind IN (
    'doc_edit', 'doc_rewrite', 'doc_summarize', 'sheet_transform', 'canvas_cluster', 'asr_transcribe',
    'workflow_run', 'spec_router', 'debug_bundle_export', 'terminal_exec', 'doc_ingest', 'distillation_eval'
  )),
  status TEXT NOT NULL CONSTRAINT ai_jobs_status_valid CHECK (status IN (
    'queued', 'running', 'stalled', 'awaiting_validation', 'awaiting_user',
    'completed', 'completed_with_issues', 'failed', 'cancelled', 'poisoned'
  )),
  status_reason TEXT NOT NULL DEFAULT '',
  error_message TEXT,
  protocol_id TEXT NOT NULL,
  profile_id TEXT NOT NULL,
  capability_profile_id TEXT NOT NULL,
  access_mode TEXT NOT NULL CONSTRAINT ai_jobs_access_mode_valid
    CHECK (access_mode IN ('analysis_only', 'preview_only', 'apply_scoped')),
  safety_mode TEXT NOT NULL CONSTRAINT ai_jobs_safety_mode_valid
    CHECK (safety_mode IN ('strict', 'normal', 'experimental')),
  entity_refs TEXT NOT NULL DEFAULT '[]' CONSTRAINT ai_jobs_entity_refs_array
    CHECK (json_valid(entity_refs) AND json_type(entity_refs) IS 'array'),
  planned_operations TEXT NOT NULL DEFAULT '[]' CONSTRAINT ai_jobs_planned_operations_array
    CHECK (json_valid(planned_operations) AND json_type(planned_operations) IS 'array'),
  -- R4: never NULL, zero from the start; nine integers, duration a u53 (what a
  -- JavaScript number holds exactly), the others u32. Extra fields are allowed.
  -- json_type(...) IS 'integer' is false, not NULL, for a missing field.
  metrics TEXT NOT NULL DEFAULT '{"duration_ms":0,"total_tokens":0,"input_tokens":0,"output_tokens":0,"tokens_planner":0,"tokens_executor":0,"entities_read":0,"entities_written":0,"validators_run_count":0}'
    CONSTRAINT ai_jobs_metrics_valid CHECK (
      json_valid(metrics) AND json_type(metrics) IS 'object'
      AND json_type(metrics, '$.duration_ms') IS 'integer'
      AND json_extract(metrics, '$.duration_ms') BETWEEN 0 AND 9007199254740991
      AND json_type(metrics, '$.total_tokens') IS 'integer'
      AND json_extract(metrics, '$.total_tokens') BETWEEN 0 AND 4294967295
      AND json_type(metrics, '$.input_tokens') IS 'integer'
      AND json_extract(metrics, '$.input_tokens') BETWEEN 0 AND 4294967295
      AND json_type(metrics, '$.output_tokens') IS 'integer'
      AND json_extract(metrics, '$.output_tokens') BETWEEN 0 AND 4294967295
      AND json_type(metrics, '$.tokens_planner') IS 'integer'
      AND json_extract(metrics, '$.tokens_planner') BETWEEN 0 AND 4294967295
      AND json_type(metrics, '$.tokens_executor') IS 'integer'
      AND json_extract(metrics, '$.tokens_executor') BETWEEN 0 AND 4294967295
      AND json_type(metrics, '$.entities_read') IS 'integer'
      AND json_extract(metrics, '$.entities_read') BETWEEN 0 AND 4294967295
      AND json_type(metrics, '$.entities_written') IS 'integer'
      AND json_extract(metrics, '$.entities_written') BETWEEN 0 AND 4294967295
      AND json_type(metrics, '$.validators_run_count') IS 'integer'
      AND json_extract(metrics, '$.validators_run_count') BETWEEN 0 AND 4294967295
    ),
  job_inputs TEXT CONSTRAINT ai_jobs_job_inputs_json CHECK (job_inputs IS NULL OR json_valid(job_inputs)),
  job_outputs TEXT CONSTRAINT ai_jobs_job_outputs_json CHECK (job_outputs IS NULL OR json_valid(job_outputs)),
  is_pinned INTEGER NOT NULL DEFAULT 0 CONSTRAINT ai_jobs_is_pinned_boolean CHECK (is_pinned IN (0, 1)),
  -- The one stored time form: 24 characters, UTC, milliseconds, a real instant,
  -- so text order is time order. strftime must give it back unchanged (which
  -- rules out 2024-02-30 and :60) and the hour must be below 24 (SQLite
  -- accepts and keeps 24:00). `IS`, not `=`, wherever a side can be NULL: a
  -- CHECK whose expression is NULL passes.
  created_at TEXT NOT NULL CONSTRAINT ai_jobs_created_at_form CHECK (
    length(created_at) = 24
    AND created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z'
    AND substr(created_at, 12, 2) < '24'
    AND strftime('%Y-%m-%dT%H:%M:%fZ', created_at) IS created_at
  ),
  updated_at TEXT NOT NULL CONSTRAINT ai_jobs_updated_at_form CHECK (
    length(updated_at) = 24
    AND updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z'
    AND substr(updated_at, 12, 2) < '24'
    AND strftime('%Y-%m-%dT%H:%M:%fZ', updated_at) IS updated_at
  )
);

CREATE TABLE workflow_runs (
  id TEXT PRIMARY KEY NOT NULL,
  job_id TEXT NOT NULL REFERENCES ai_jobs (id) ON DELETE CASCADE,
  status TEXT NOT NULL CONSTRAINT workflow_runs_status_valid CHECK (status IN (
    'queued', 'running', 'stalled', 'awaiting_validation', 'awaiting_user',
    'completed', 'completed_with_issues', 'failed', 'cancelled', 'poisoned'
  )),
  last_heartbeat TEXT NOT NULL CONSTRAINT workflow_runs_last_heartbeat_form CHECK (
    length(last_heartbeat) = 24
    AND last_heartbeat GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z'
    AND substr(last_heartbeat, 12, 2) < '24'
    AND strftime('%Y-%m-%dT%H:%M:%fZ', last_heartbeat) IS last_heartbeat
  ),
  error_message TEXT,
  created_at TEXT NOT NULL CONSTRAINT workflow_runs_created_at_form CHECK (
    length(created_at) = 24
    AND created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z'
    AND substr(created_at, 12, 2) < '24'
    AND strftime('%Y-%m-%dT%H:%M:%fZ', created_at) IS created_at
  ),
  updated_at TEXT NOT NULL CONSTRAINT workflow_runs_updated_at_form CHECK (
    length(updated_at) = 24
    AND updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z'
    AND substr(updated_at, 12, 2) < '24'
    AND strftime('%Y-%m-%dT%H:%M:%fZ', updated_at) IS updated_at
  )
);

CREATE TABLE workflow_node_executions (
  id TEXT PRIMARY KEY NOT NULL,
  workflow_run_id TEXT NOT NULL REFERENCES workflow_runs (id) ON DELETE CASCADE,
  node_id TEXT NOT NULL CONSTRAINT workflow_node_executions_node_id_nonempty CHECK (length(node_id) > 0),
  node_type TEXT NOT NULL CONSTRAINT workflow_node_executions_node_type_nonempty CHECK (length(node_type) > 0),
  -- Any job state: the reference stores a node's status as its JobState.
  status TEXT NOT NULL CONSTRAINT workflow_node_executions_status_valid CHECK (status IN (
    'queued', 'running', 'stalled', 'awaiting_validation', 'awaiting_user',
    'completed', 'completed_with_issues', 'failed', 'cancelled', 'poisoned'
  )),
  sequence INTEGER NOT NULL CONSTRAINT workflow_node_executions_sequence_valid
    CHECK (typeof(sequence) = 'integer' AND sequence >= 0),
  input_payload TEXT CONSTRAINT workflow_node_executions_input_payload_json
    CHECK (input_payload IS NULL OR json_valid(input_payload)),
  output_payload TEXT CONSTRAINT workflow_node_executions_output_payload_json
    CHECK (output_payload IS NULL OR json_valid(output_payload)),
  error_message TEXT,
  started_at TEXT NOT NULL CONSTRAINT workflow_node_executions_started_at_form CHECK (
    length(started_at) = 24
    AND started_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z'
    AND substr(started_at, 12, 2) < '24'
    AND strftime('%Y-%m-%dT%H:%M:%fZ', started_at) IS started_at
  ),
  finished_at TEXT CONSTRAINT workflow_node_executions_finished_at_form CHECK (
    finished_at IS NULL OR (
      length(finished_at) = 24
      AND finished_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z'
      AND substr(finished_at, 12, 2) < '24'
      AND strftime('%Y-%m-%dT%H:%M:%fZ', finished_at) IS finished_at
    )
  ),
  -- Also the index for listing a run's nodes in order.
  CONSTRAINT workflow_node_executions_sequence_unique UNIQUE (workflow_run_id, sequence)
);

-- 3. Copy, parent -> child.
--
-- Every legacy timestamp text, converted once: a text in one of the legacy
-- forms whose calendar date is real (SQLite would roll 2024-02-30 over to
-- March) becomes strftime's UTC form; anything else is kept unchanged, to be
-- refused by the column's CHECK when copied.
--
-- The copies look a text up as `raw = CAST(col AS TEXT)`: the reference
-- declares its time columns TIMESTAMP (numeric affinity), and comparing such a
-- column with the TEXT key applies numeric affinity to the key, which its index
-- cannot serve, so each row scanned the whole table (an upgrade quadratic in
-- its rows). The cast gives the comparison text affinity on both sides, and
-- the same match, so the lookup uses the key's index.
CREATE TEMP TABLE legacy_instants (raw TEXT PRIMARY KEY NOT NULL, converted TEXT NOT NULL);

INSERT INTO legacy_instants (raw, converted)
SELECT
  raw,
  CASE
    WHEN raw GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9]*'
      AND date(substr(raw, 1, 10)) = substr(raw, 1, 10)
    THEN coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', cut), raw)
    ELSE raw
  END
FROM (
  -- A fraction finer than the millisecond is cut to three digits in the text
  -- (`.123999` -> `.123`, offset kept), as PostgreSQL's upgrade does with
  -- date_trunc: strftime would round it (`.124`), or carry `.9999995` into the
  -- next second. `after` is the text following the fraction's digits.
  SELECT
    raw,
    CASE WHEN substr(raw, 20, 1) = '.'
      THEN substr(raw, 1, min(23, length(raw) - length(after))) || after
      ELSE raw
    END AS cut
  FROM (
    SELECT raw, ltrim(substr(raw, 21), '0123456789') AS after
    FROM (
      SELECT created_at AS raw FROM legacy_ai_jobs
      UNION SELECT updated_at FROM legacy_ai_jobs
      UNION SELECT last_heartbeat FROM legacy_workflow_runs
      UNION SELECT created_at FROM legacy_workflow_runs
      UNION SELECT updated_at FROM legacy_workflow_runs
      UNION SELECT started_at FROM legacy_workflow_node_executions
      UNION SELECT finished_at FROM legacy_workflow_node_executions
    )
    WHERE raw IS NOT NULL
  )
);

INSERT INTO ai_jobs (
  id, trace_id, workflow_run_id, job_kind, status, status_reason, error_message,
  protocol_id, profile_id, capability_profile_id, access_mode, safety_mode,
  entity_refs, planned_operations, metrics, job_inputs, job_outputs, is_pinned,
  created_at, updated_at
)
SELECT
  id,
  trace_id,
  NULL,
  CASE job_kind
    WHEN 'term_exec' THEN 'terminal_exec'
    WHEN 'doc_test' THEN 'doc_summarize'
    WHEN 'governance_pack_export' THEN 'workflow_run'
    ELSE job_kind
  END,
  status,
  coalesce(status_reason, ''),
  error_message,
  CASE WHEN job_kind = 'governance_pack_export' THEN 'hsk.governance_pack.export.v0' ELSE protocol_id END,
  profile_id,
  capability_profile_id,
  access_mode,
  safety_mode,
  -- SQL NULL, '' and JSON null (serde's `None`) all mean "absent".
  coalesce(nullif(nullif(trim(entity_refs), ''), 'null'), '[]'),
  coalesce(nullif(nullif(trim(planned_operations), ''), 'null'), '[]'),
  -- json_patch onto {} drops members that are JSON null; json_insert then adds
  -- each missing metric as 0 and never overwrites a present one, so a bad
  -- value (negative, fraction, string) survives to be refused by the CHECK.
  json_insert(
    json_patch('{}', coalesce(nullif(nullif(trim(metrics), ''), 'null'), '{}')),
    '$.duration_ms', 0,
    '$.total_tokens', 0,
    '$.input_tokens', 0,
    '$.output_tokens', 0,
    '$.tokens_planner', 0,
    '$.tokens_executor', 0,
    '$.entities_read', 0,
    '$.entities_written', 0,
    '$.validators_run_count', 0
  ),
  job_inputs,
  job_outputs,
  coalesce(is_pinned, 0),
  (SELECT converted FROM legacy_instants WHERE raw = CAST(created_at AS TEXT)),
  (SELECT converted FROM legacy_instants WHERE raw = CAST(updated_at AS TEXT))
FROM legacy_ai_jobs;

INSERT INTO workflow_runs (id, job_id, status, last_heartbeat, error_message, created_at, updated_at)
SELECT
  id,
  job_id,
  status,
  (SELECT converted FROM legacy_instants WHERE raw = CAST(last_heartbeat AS TEXT)),
  -- The legacy runs table has no error_message column.
  NULL,
  (SELECT converted FROM legacy_instants WHERE raw = CAST(created_at AS TEXT)),
  (SELECT converted FROM legacy_instants WHERE raw = CAST(updated_at AS TEXT))
FROM legacy_workflow_runs;

-- The job's run pointer, now that the runs exist. An empty string meant none.
UPDATE ai_jobs
SET workflow_run_id = nullif(legacy.workflow_run_id, '')
FROM legacy_ai_jobs AS legacy
WHERE legacy.id = ai_jobs.id AND nullif(legacy.workflow_run_id, '') IS NOT NULL;

INSERT INTO workflow_node_executions (
  id, workflow_run_id, node_id, node_type, status, sequence,
  input_payload, output_payload, error_message, started_at, finished_at
)
SELECT
  id,
  workflow_run_id,
  node_id,
  node_type,
  status,
  sequence,
  input_payload,
  output_payload,
  error_message,
  (SELECT converted FROM legacy_instants WHERE raw = CAST(started_at AS TEXT)),
  (SELECT converted FROM legacy_instants WHERE raw = CAST(finished_at AS TEXT))
FROM legacy_workflow_node_executions;

-- 4. Drop the legacy tables, child -> parent. A legacy database may also have
-- pointed its jobs at its runs; clear that pointer so dropping the legacy
-- runs (an implicit DELETE) leaves nothing dangling.
DROP TABLE legacy_workflow_node_executions;
UPDATE legacy_ai_jobs SET workflow_run_id = NULL WHERE workflow_run_id IS NOT NULL;
DROP TABLE legacy_workflow_runs;
DROP TABLE legacy_ai_jobs;
DROP TABLE temp.legacy_instants;

-- 5. An index for every query the store runs.
CREATE INDEX ai_jobs_by_created ON ai_jobs (created_at, id);
CREATE INDEX ai_jobs_by_status_created ON ai_jobs (status, created_at, id);
CREATE INDEX ai_jobs_by_kind_created ON ai_jobs (job_kind, created_at, id);
CREATE INDEX ai_jobs_by_trace ON ai_jobs (trace_id);
CREATE INDEX ai_jobs_by_workflow_run ON ai_jobs (workflow_run_id);
-- Pruning: terminal jobs by last update.
CREATE INDEX ai_jobs_by_status_updated ON ai_jobs (status, updated_at, id);
-- The stale-run scan of startup recovery.
CREATE INDEX workflow_runs_by_status_heartbeat ON workflow_runs (status, last_heartbeat, id);
CREATE INDEX workflow_runs_by_job ON workflow_runs (job_id, created_at, id);
