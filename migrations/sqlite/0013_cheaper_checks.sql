-- 0013: the same CHECKs in cheaper words (issue 16, SQLite only).
--
-- Measured per write (bench/sqliteReplayChecks.ts, each CHECK priced alone
-- per statement execution): a constant list of more than two terms
-- (`status IN ('queued', ...)`) makes SQLite build an ephemeral index on
-- every execution of the statement, ~1.5-2.3 us a list; a lifecycle paid
-- ~34 us of CPU for the eight lists of the hot tables. Each list is now an OR
-- of equalities, the same result for every value (NULL included: NULL
-- either way; the column's affinity and collation either way), at ~0.3-0.6
-- us. Same constraint names, so a refused write fails as before;
-- test/store/sqlite-check-rewrite.test.ts holds every rewritten expression
-- to the old one in SQLite itself. Nothing else changes: the timestamp
-- form's strftime round trip was priced too (~1.2 us a write, its GLOB and
-- range equivalent no cheaper per execution) and keeps its words.
--
-- SQLite changes a CHECK only by rebuilding the table, inside the Migrator's
-- transaction. The run has foreign keys off and renames that leave every
-- REFERENCES naming the table it named (sqlite/migrations.ts: with them on, a
-- table we do not own lost its rows to the drop's cascade), and
-- foreign_key_check as the file ends refuses any reference left dangling.
-- Ordered as 0002:
--   1. rename the four tables (references keep their names: old children
--      point at the new parents, never read);
--   2. create the tables again, with the new CHECKs (new points at new);
--   3. copy every row (its rowid too), parent -> child: jobs without their
--      run pointer, runs, the pointer, node executions; the events;
--   4. drop the old tables child -> parent (DROP TABLE deletes the rows
--      first, and a parent must have no children left when it goes);
--   5. every index and trigger again, as 0002-0011 left them.
-- A stored row that breaks a rule fails its copy: the migration fails naming
-- the constraint, and the transaction leaves the database as it was.
--
-- Replay-safe: a database where none of the four tables has a list left in
-- its CHECKs skips the file (see src/store/internal/migrationGuard.ts); one
-- where an earlier migration run again (0005) rebuilt a table with the old
-- words is rebuilt once more, to the same schema.
-- skip-if: SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name IN ('ai_jobs', 'workflow_runs', 'workflow_node_executions', 'flight_recorder_events') AND (sql LIKE '%status IN (%' OR sql LIKE '%actor IN (%'))

-- 1. Rename the four tables.
ALTER TABLE workflow_node_executions RENAME TO workflow_node_executions_0012;
ALTER TABLE workflow_runs RENAME TO workflow_runs_0012;
ALTER TABLE ai_jobs RENAME TO ai_jobs_0012;
ALTER TABLE flight_recorder_events RENAME TO flight_recorder_events_0012;

-- 2. The tables again, column for column, with the cheaper CHECKs.
CREATE TABLE ai_jobs (
  id TEXT PRIMARY KEY NOT NULL,
  trace_id TEXT NOT NULL,
  -- Checked immediately: rows are copied before their runs exist, so the
  -- pointer is filled in after the runs (step 3 of 0002 and of 0013).
  workflow_run_id TEXT REFERENCES workflow_runs (id) ON DELETE SET NULL,
  job_kind TEXT NOT NULL CONSTRAINT ai_jobs_job_kind_valid CHECK ((
      job_kind = 'doc_edit'
      OR job_kind = 'doc_rewrite'
      OR job_kind = 'doc_summarize'
      OR job_kind = 'sheet_transform'
      OR job_kind = 'canvas_cluster'
      OR job_kind = 'asr_transcribe'
      OR job_kind = 'workflow_run'
      OR job_kind = 'spec_router'
      OR job_kind = 'debug_bundle_export'
      OR job_kind = 'terminal_exec'
      OR job_kind = 'doc_ingest'
      OR job_kind = 'distillation_eval')),
  status TEXT NOT NULL CONSTRAINT ai_jobs_status_valid CHECK ((
      status = 'queued'
      OR status = 'running'
      OR status = 'stalled'
      OR status = 'awaiting_validation'
      OR status = 'awaiting_user'
      OR status = 'completed'
      OR status = 'completed_with_issues'
      OR status = 'failed'
      OR status = 'cancelled'
      OR status = 'poisoned')),
  status_reason TEXT NOT NULL DEFAULT '',
  error_message TEXT,
  protocol_id TEXT NOT NULL,
  profile_id TEXT NOT NULL,
  capability_profile_id TEXT NOT NULL,
  access_mode TEXT NOT NULL CONSTRAINT ai_jobs_access_mode_valid
    CHECK ((
        access_mode = 'analysis_only'
        OR access_mode = 'preview_only'
        OR access_mode = 'apply_scoped')),
  safety_mode TEXT NOT NULL CONSTRAINT ai_jobs_safety_mode_valid
    CHECK ((
        safety_mode = 'strict'
        OR safety_mode = 'normal'
        OR safety_mode = 'experimental')),
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
, attempt INTEGER NOT NULL DEFAULT 1
  CONSTRAINT ai_jobs_attempt_valid CHECK (typeof(attempt) = 'integer' AND attempt BETWEEN 1 AND 1000000), max_attempts INTEGER NOT NULL DEFAULT 1
  CONSTRAINT ai_jobs_max_attempts_valid CHECK (typeof(max_attempts) = 'integer' AND max_attempts BETWEEN 1 AND 1000000), run_after TEXT NOT NULL DEFAULT '1970-01-01T00:00:00.000Z'
  CONSTRAINT ai_jobs_run_after_form CHECK (
    length(run_after) = 24
    AND run_after GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z'
    AND substr(run_after, 12, 2) < '24'
    AND strftime('%Y-%m-%dT%H:%M:%fZ', run_after) IS run_after
  ), priority INTEGER NOT NULL DEFAULT 0
  CONSTRAINT ai_jobs_priority_valid CHECK (typeof(priority) = 'integer' AND priority BETWEEN -32768 AND 32767), backoff TEXT
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
  ) IS TRUE));

CREATE TABLE workflow_runs (
  id TEXT PRIMARY KEY NOT NULL,
  job_id TEXT NOT NULL REFERENCES ai_jobs (id) ON DELETE CASCADE,
  status TEXT NOT NULL CONSTRAINT workflow_runs_status_valid CHECK ((
      status = 'queued'
      OR status = 'running'
      OR status = 'stalled'
      OR status = 'awaiting_validation'
      OR status = 'awaiting_user'
      OR status = 'completed'
      OR status = 'completed_with_issues'
      OR status = 'failed'
      OR status = 'cancelled'
      OR status = 'poisoned')),
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
  status TEXT NOT NULL CONSTRAINT workflow_node_executions_status_valid CHECK ((
      status = 'queued'
      OR status = 'running'
      OR status = 'stalled'
      OR status = 'awaiting_validation'
      OR status = 'awaiting_user'
      OR status = 'completed'
      OR status = 'completed_with_issues'
      OR status = 'failed'
      OR status = 'cancelled'
      OR status = 'poisoned')),
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

CREATE TABLE flight_recorder_events (
  event_id TEXT PRIMARY KEY NOT NULL,
  timestamp TEXT NOT NULL CONSTRAINT flight_recorder_events_timestamp_form CHECK (
    length(timestamp) = 24
    AND timestamp GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z'
    AND substr(timestamp, 12, 2) < '24'
    AND strftime('%Y-%m-%dT%H:%M:%fZ', timestamp) IS timestamp
  ),
  actor TEXT NOT NULL CONSTRAINT flight_recorder_events_actor_valid CHECK ((
      actor = 'human'
      OR actor = 'agent'
      OR actor = 'system')),
  type TEXT NOT NULL CONSTRAINT flight_recorder_events_type_valid CHECK ((
      type = 'workflow_recovery'
      OR type = 'capability_action'
      OR type = 'llm_inference'
      OR type = 'system'
      OR type = 'terminal_command'
      OR type = 'diagnostic'
      OR type = 'debug_bundle_export'
      OR type = 'security_violation')),
  trace_id TEXT NOT NULL,
  job_id TEXT,
  workflow_run_id TEXT,
  body TEXT NOT NULL CONSTRAINT flight_recorder_events_body_object
    CHECK (json_valid(body) AND json_type(body) IS 'object')
);

-- 3. Every row, parent -> child.
INSERT INTO ai_jobs (
  rowid, id, trace_id, workflow_run_id, job_kind, status, status_reason, error_message, protocol_id, profile_id,
  capability_profile_id, access_mode, safety_mode, entity_refs, planned_operations, metrics, job_inputs,
  job_outputs, is_pinned, created_at, updated_at, attempt, max_attempts, run_after, priority, backoff
)
SELECT
  rowid, id, trace_id, NULL, job_kind, status, status_reason, error_message, protocol_id, profile_id,
  capability_profile_id, access_mode, safety_mode, entity_refs, planned_operations, metrics, job_inputs,
  job_outputs, is_pinned, created_at, updated_at, attempt, max_attempts, run_after, priority, backoff
FROM ai_jobs_0012;

INSERT INTO workflow_runs (rowid, id, job_id, status, last_heartbeat, error_message, created_at, updated_at)
SELECT rowid, id, job_id, status, last_heartbeat, error_message, created_at, updated_at FROM workflow_runs_0012;

UPDATE ai_jobs SET workflow_run_id = (SELECT old.workflow_run_id FROM ai_jobs_0012 AS old WHERE old.id = ai_jobs.id)
WHERE id IN (SELECT id FROM ai_jobs_0012 WHERE workflow_run_id IS NOT NULL);

INSERT INTO workflow_node_executions (
  rowid, id, workflow_run_id, node_id, node_type, status, sequence,
  input_payload, output_payload, error_message, started_at, finished_at
)
SELECT
  rowid, id, workflow_run_id, node_id, node_type, status, sequence,
  input_payload, output_payload, error_message, started_at, finished_at
FROM workflow_node_executions_0012;

INSERT INTO flight_recorder_events (rowid, event_id, timestamp, actor, type, trace_id, job_id, workflow_run_id, body)
SELECT rowid, event_id, timestamp, actor, type, trace_id, job_id, workflow_run_id, body FROM flight_recorder_events_0012;

-- 4. Drop the old tables, child -> parent; the old jobs' run pointers are
-- cleared first so dropping the old runs (an implicit DELETE) has nothing to
-- set to NULL. Their indexes and triggers go with them.
DROP TABLE workflow_node_executions_0012;
UPDATE ai_jobs_0012 SET workflow_run_id = NULL WHERE workflow_run_id IS NOT NULL;
DROP TABLE workflow_runs_0012;
DROP TABLE ai_jobs_0012;
DROP TABLE flight_recorder_events_0012;

-- 5. Every index and trigger again, as 0002-0011 left them.
CREATE INDEX ai_jobs_by_created ON ai_jobs (created_at, id);
CREATE INDEX ai_jobs_by_status_created ON ai_jobs (status, created_at, id);
CREATE INDEX ai_jobs_by_kind_created ON ai_jobs (job_kind, created_at, id);
CREATE INDEX ai_jobs_by_trace ON ai_jobs (trace_id);
CREATE INDEX ai_jobs_by_short_id ON ai_jobs (substr(id, 29));
CREATE INDEX ai_jobs_by_claim ON ai_jobs (priority DESC, run_after, created_at, id)
  WHERE status = 'queued';
CREATE INDEX ai_jobs_by_run ON ai_jobs (workflow_run_id)
  WHERE workflow_run_id IS NOT NULL;
CREATE INDEX ai_jobs_prunable_by_updated ON ai_jobs (updated_at, id)
  WHERE status IN ('completed', 'completed_with_issues', 'cancelled', 'poisoned', 'failed');
CREATE INDEX workflow_runs_by_job ON workflow_runs (job_id, created_at, id);
CREATE INDEX workflow_runs_running_by_heartbeat ON workflow_runs (last_heartbeat, id)
  WHERE status = 'running';
CREATE INDEX flight_recorder_events_by_time ON flight_recorder_events (timestamp, event_id);
CREATE INDEX flight_recorder_events_by_job ON flight_recorder_events (job_id, timestamp);
CREATE INDEX flight_recorder_events_by_trace ON flight_recorder_events (trace_id, timestamp);
CREATE INDEX flight_recorder_events_by_type ON flight_recorder_events (type, timestamp);
CREATE INDEX flight_recorder_events_by_run_time ON flight_recorder_events (workflow_run_id, timestamp)
  WHERE workflow_run_id IS NOT NULL;

CREATE TRIGGER flight_recorder_events_refuse_delete
BEFORE DELETE ON flight_recorder_events
WHEN NOT EXISTS (
  SELECT 1 FROM flight_recorder_retention_grants AS g WHERE OLD.timestamp < g.cutoff
)
BEGIN
  SELECT RAISE(ABORT, 'flight_recorder_events is append-only: DELETE refused outside a retention purge');
END;

CREATE TRIGGER flight_recorder_events_refuse_update
BEFORE UPDATE ON flight_recorder_events
BEGIN
  SELECT RAISE(ABORT, 'flight_recorder_events is append-only: UPDATE refused');
END;

CREATE TRIGGER flight_recorder_events_refuse_replace
BEFORE INSERT ON flight_recorder_events
WHEN EXISTS (SELECT 1 FROM flight_recorder_events AS taken WHERE taken.event_id = NEW.event_id)
BEGIN
  SELECT RAISE(ABORT, 'flight_recorder_events is append-only: event_id already taken, INSERT OR REPLACE refused');
END;
