-- The Flight Recorder's event log (SPEC R10-R13): append-only, enforced by
-- the database itself.
--
-- No foreign keys to jobs or runs: the audit trail outlives pruned jobs.
-- `body` is the whole validated event; the other columns are its envelope,
-- kept as columns so every listing filter has an index.
--
-- Replay-safe (issue 12.4): every statement creates only what is missing.

CREATE TABLE IF NOT EXISTS flight_recorder_events (
  event_id TEXT PRIMARY KEY NOT NULL,
  timestamp TEXT NOT NULL CONSTRAINT flight_recorder_events_timestamp_form CHECK (
    length(timestamp) = 24
    AND timestamp GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z'
    AND substr(timestamp, 12, 2) < '24'
    AND strftime('%Y-%m-%dT%H:%M:%fZ', timestamp) IS timestamp
  ),
  actor TEXT NOT NULL CONSTRAINT flight_recorder_events_actor_valid CHECK (actor IN ('human', 'agent', 'system')),
  type TEXT NOT NULL CONSTRAINT flight_recorder_events_type_valid CHECK (type IN (
    'workflow_recovery', 'capability_action', 'llm_inference', 'system',
    'terminal_command', 'diagnostic', 'debug_bundle_export', 'security_violation'
  )),
  trace_id TEXT NOT NULL,
  job_id TEXT,
  workflow_run_id TEXT,
  body TEXT NOT NULL CONSTRAINT flight_recorder_events_body_object
    CHECK (json_valid(body) AND json_type(body) IS 'object')
);

-- A retention grant allows deleting events older than its cutoff. The store's
-- purge inserts one, deletes a batch and removes it again inside one short
-- transaction, so no grant is ever visible to another connection.
CREATE TABLE IF NOT EXISTS flight_recorder_retention_grants (
  grant_id INTEGER PRIMARY KEY,
  cutoff TEXT NOT NULL CONSTRAINT flight_recorder_retention_grants_cutoff_form CHECK (
    length(cutoff) = 24
    AND cutoff GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z'
    AND substr(cutoff, 12, 2) < '24'
    AND strftime('%Y-%m-%dT%H:%M:%fZ', cutoff) IS cutoff
  )
);

CREATE TRIGGER IF NOT EXISTS flight_recorder_events_refuse_update
BEFORE UPDATE ON flight_recorder_events
BEGIN
  SELECT RAISE(ABORT, 'flight_recorder_events is append-only: UPDATE refused');
END;

CREATE TRIGGER IF NOT EXISTS flight_recorder_events_refuse_delete
BEFORE DELETE ON flight_recorder_events
WHEN NOT EXISTS (
  SELECT 1 FROM flight_recorder_retention_grants AS g WHERE OLD.timestamp < g.cutoff
)
BEGIN
  SELECT RAISE(ABORT, 'flight_recorder_events is append-only: DELETE refused outside a retention purge');
END;

CREATE INDEX IF NOT EXISTS flight_recorder_events_by_time ON flight_recorder_events (timestamp, event_id);
CREATE INDEX IF NOT EXISTS flight_recorder_events_by_job ON flight_recorder_events (job_id, timestamp);
CREATE INDEX IF NOT EXISTS flight_recorder_events_by_trace ON flight_recorder_events (trace_id, timestamp);
CREATE INDEX IF NOT EXISTS flight_recorder_events_by_run ON flight_recorder_events (workflow_run_id, timestamp);
CREATE INDEX IF NOT EXISTS flight_recorder_events_by_type ON flight_recorder_events (type, timestamp);
