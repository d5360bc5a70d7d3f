-- 0005: a node execution's status is any of the ten job states (issue 12.1).
--
-- The reference stores a node's status as its JobState (its security-violation
-- path marks running nodes `poisoned`; others write `completed_with_issues`,
-- `stalled`, ...). 0002 now creates the table with that CHECK; this widens it
-- in a database that ran the earlier 0002, whose CHECK allowed only running,
-- completed, failed and cancelled.
--
-- SQLite changes a CHECK only by rebuilding the table. Nothing references
-- workflow_node_executions, so it is rebuilt inside the Migrator's transaction
-- with foreign keys on: copy, drop, rename. Its one index is the UNIQUE
-- constraint, rebuilt with it. Every row is copied as it is.
--
-- Replay-safe: the rebuild happens once; when the CHECK already lists the ten
-- states the file is skipped (see src/store/internal/migrationGuard.ts).
-- skip-if: SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'workflow_node_executions' AND sql LIKE '%''completed_with_issues''%'

CREATE TABLE workflow_node_executions_rebuilt (
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

INSERT INTO workflow_node_executions_rebuilt (
  id, workflow_run_id, node_id, node_type, status, sequence,
  input_payload, output_payload, error_message, started_at, finished_at
)
SELECT
  id, workflow_run_id, node_id, node_type, status, sequence,
  input_payload, output_payload, error_message, started_at, finished_at
FROM workflow_node_executions;

DROP TABLE workflow_node_executions;

ALTER TABLE workflow_node_executions_rebuilt RENAME TO workflow_node_executions;
