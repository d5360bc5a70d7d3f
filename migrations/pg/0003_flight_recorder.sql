-- 0003: the Flight Recorder's append-only event log (R10-R13).
--
-- The database itself keeps the log append-only: every UPDATE is refused, and
-- a DELETE only passes for rows older than the cutoff of a retention grant
-- that exists in the deleting transaction. purgeEventsBatch inserts a grant,
-- deletes a batch and removes the grant in one short transaction; a grant can
-- never be committed, so no other session ever sees one.
--
-- Replay-safe (issue 12.4): tables and indexes only if missing, functions
-- replaced, triggers dropped and created again.

CREATE TABLE IF NOT EXISTS flight_recorder_events (
  event_id uuid PRIMARY KEY,
  "timestamp" timestamptz NOT NULL,
  actor text NOT NULL CHECK (actor IN ('human', 'agent', 'system')),
  type text NOT NULL CHECK (type IN (
    'workflow_recovery', 'capability_action', 'llm_inference', 'system',
    'terminal_command', 'diagnostic', 'debug_bundle_export', 'security_violation')),
  trace_id uuid NOT NULL,
  -- No foreign keys: the audit trail outlives pruned jobs and runs.
  job_id uuid,
  workflow_run_id uuid,
  -- The whole event, envelope included.
  body jsonb NOT NULL CHECK (jsonb_typeof(body) = 'object')
);

CREATE INDEX IF NOT EXISTS flight_recorder_events_time_idx ON flight_recorder_events ("timestamp", event_id);
CREATE INDEX IF NOT EXISTS flight_recorder_events_job_idx ON flight_recorder_events (job_id, "timestamp");
CREATE INDEX IF NOT EXISTS flight_recorder_events_trace_idx ON flight_recorder_events (trace_id, "timestamp");
CREATE INDEX IF NOT EXISTS flight_recorder_events_run_idx ON flight_recorder_events (workflow_run_id, "timestamp");
CREATE INDEX IF NOT EXISTS flight_recorder_events_type_idx ON flight_recorder_events (type, "timestamp");

CREATE TABLE IF NOT EXISTS flight_recorder_retention_grants (
  grant_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  cutoff timestamptz NOT NULL
);

-- UPDATE: always refused. DELETE: only for rows older than a grant's cutoff.
CREATE OR REPLACE FUNCTION flight_recorder_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE'
     AND EXISTS (SELECT 1 FROM flight_recorder_retention_grants g WHERE OLD."timestamp" < g.cutoff) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'flight_recorder_events is append-only: % of event % refused', TG_OP, OLD.event_id
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'Events are removed only by retention (purgeEventsBatch).';
END
$$;

DROP TRIGGER IF EXISTS flight_recorder_events_append_only ON flight_recorder_events;
CREATE TRIGGER flight_recorder_events_append_only
  BEFORE UPDATE OR DELETE ON flight_recorder_events
  FOR EACH ROW EXECUTE FUNCTION flight_recorder_events_append_only();

CREATE OR REPLACE FUNCTION flight_recorder_events_no_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'flight_recorder_events is append-only: TRUNCATE refused'
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'Events are removed only by retention (purgeEventsBatch).';
END
$$;

DROP TRIGGER IF EXISTS flight_recorder_events_no_truncate ON flight_recorder_events;
CREATE TRIGGER flight_recorder_events_no_truncate
  BEFORE TRUNCATE ON flight_recorder_events
  FOR EACH STATEMENT EXECUTE FUNCTION flight_recorder_events_no_truncate();

-- A grant lives only inside the transaction that made it: one still present
-- at COMMIT makes the COMMIT fail, so no grant can outlast its purge.
CREATE OR REPLACE FUNCTION flight_recorder_grant_must_not_commit() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM flight_recorder_retention_grants g WHERE g.grant_id = NEW.grant_id) THEN
    RAISE EXCEPTION 'flight_recorder_retention_grants: grant % was not removed before COMMIT', NEW.grant_id
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'Insert a grant, delete the expired events and delete the grant in one transaction.';
  END IF;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS flight_recorder_grant_must_not_commit ON flight_recorder_retention_grants;
CREATE CONSTRAINT TRIGGER flight_recorder_grant_must_not_commit
  AFTER INSERT ON flight_recorder_retention_grants
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION flight_recorder_grant_must_not_commit();
