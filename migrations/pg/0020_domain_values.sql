-- 0020 (PostgreSQL): the database refuses the ids, instants and entity refs
-- the domain cannot read back, as SQLite does (its 0020).
--
-- An outside probe wrote raw rows that this database took and the store then
-- read as CorruptRow:
--   * the nil UUID as an id (the uuid type takes it; the domain names
--     nothing with it). Any other id the domain refuses — no UUID, or one in
--     upper case — is already refused or made lower-case by the uuid type.
--   * an instant before 1970 or from 10000 on in a job's, a run's or a node
--     execution's times (a job's updated_at in year 10000 was taken), where
--     the domain holds 1970 to 9999: the range 0019 gave the events'
--     timestamp (and 0007 a job's run_after), now on every instant column
--     the domain reads.
--   * entity_refs whose elements are no {entity_id, entity_kind} object of
--     two non-empty strings (`[1]`, `[{}]`, an extra key): the CHECK
--     ai_jobs_entity_refs_check looks only at the outer array.
-- The library never writes any of these: this refuses only raw SQL. Each
-- refusal is a check_violation (23514) naming its constraint, which the
-- store reports as every failed CHECK (a StorageError keeping the SqlError).
--
-- Plain CHECKs, NOT VALID: rows already stored are not judged (a legacy row
-- still opens, and nothing is rewritten); every new row version is checked.
--
-- Replay-safe: each constraint dropped if it exists, then added.

-- Ids: never the nil UUID (the uuid type refuses any other text the domain refuses).
ALTER TABLE ai_jobs DROP CONSTRAINT IF EXISTS ai_jobs_id_uuid;
ALTER TABLE ai_jobs ADD CONSTRAINT ai_jobs_id_uuid CHECK (id <> '00000000-0000-0000-0000-000000000000') NOT VALID;
ALTER TABLE ai_jobs DROP CONSTRAINT IF EXISTS ai_jobs_trace_id_uuid;
ALTER TABLE ai_jobs ADD CONSTRAINT ai_jobs_trace_id_uuid CHECK (trace_id <> '00000000-0000-0000-0000-000000000000') NOT VALID;
ALTER TABLE ai_jobs DROP CONSTRAINT IF EXISTS ai_jobs_workflow_run_id_uuid;
ALTER TABLE ai_jobs ADD CONSTRAINT ai_jobs_workflow_run_id_uuid CHECK (workflow_run_id <> '00000000-0000-0000-0000-000000000000') NOT VALID;
ALTER TABLE workflow_runs DROP CONSTRAINT IF EXISTS workflow_runs_id_uuid;
ALTER TABLE workflow_runs ADD CONSTRAINT workflow_runs_id_uuid CHECK (id <> '00000000-0000-0000-0000-000000000000') NOT VALID;
ALTER TABLE workflow_runs DROP CONSTRAINT IF EXISTS workflow_runs_job_id_uuid;
ALTER TABLE workflow_runs ADD CONSTRAINT workflow_runs_job_id_uuid CHECK (job_id <> '00000000-0000-0000-0000-000000000000') NOT VALID;
ALTER TABLE workflow_node_executions DROP CONSTRAINT IF EXISTS workflow_node_executions_id_uuid;
ALTER TABLE workflow_node_executions ADD CONSTRAINT workflow_node_executions_id_uuid CHECK (id <> '00000000-0000-0000-0000-000000000000') NOT VALID;
ALTER TABLE workflow_node_executions DROP CONSTRAINT IF EXISTS workflow_node_executions_workflow_run_id_uuid;
ALTER TABLE workflow_node_executions ADD CONSTRAINT workflow_node_executions_workflow_run_id_uuid CHECK (workflow_run_id <> '00000000-0000-0000-0000-000000000000') NOT VALID;
ALTER TABLE flight_recorder_events DROP CONSTRAINT IF EXISTS flight_recorder_events_event_id_uuid;
ALTER TABLE flight_recorder_events ADD CONSTRAINT flight_recorder_events_event_id_uuid CHECK (event_id <> '00000000-0000-0000-0000-000000000000') NOT VALID;
ALTER TABLE flight_recorder_events DROP CONSTRAINT IF EXISTS flight_recorder_events_trace_id_uuid;
ALTER TABLE flight_recorder_events ADD CONSTRAINT flight_recorder_events_trace_id_uuid CHECK (trace_id <> '00000000-0000-0000-0000-000000000000') NOT VALID;
ALTER TABLE flight_recorder_events DROP CONSTRAINT IF EXISTS flight_recorder_events_job_id_uuid;
ALTER TABLE flight_recorder_events ADD CONSTRAINT flight_recorder_events_job_id_uuid CHECK (job_id <> '00000000-0000-0000-0000-000000000000') NOT VALID;
ALTER TABLE flight_recorder_events DROP CONSTRAINT IF EXISTS flight_recorder_events_workflow_run_id_uuid;
ALTER TABLE flight_recorder_events ADD CONSTRAINT flight_recorder_events_workflow_run_id_uuid CHECK (workflow_run_id <> '00000000-0000-0000-0000-000000000000') NOT VALID;

-- Instants: 1970 to 9999, the range of flight_recorder_events_timestamp_valid (0019)
-- and of ai_jobs_run_after_check (0007, already on run_after).
ALTER TABLE ai_jobs DROP CONSTRAINT IF EXISTS ai_jobs_created_at_valid;
ALTER TABLE ai_jobs ADD CONSTRAINT ai_jobs_created_at_valid CHECK (created_at >= '1970-01-01T00:00:00Z' AND created_at < '10000-01-01T00:00:00Z') NOT VALID;
ALTER TABLE ai_jobs DROP CONSTRAINT IF EXISTS ai_jobs_updated_at_valid;
ALTER TABLE ai_jobs ADD CONSTRAINT ai_jobs_updated_at_valid CHECK (updated_at >= '1970-01-01T00:00:00Z' AND updated_at < '10000-01-01T00:00:00Z') NOT VALID;
ALTER TABLE workflow_runs DROP CONSTRAINT IF EXISTS workflow_runs_last_heartbeat_valid;
ALTER TABLE workflow_runs ADD CONSTRAINT workflow_runs_last_heartbeat_valid CHECK (last_heartbeat >= '1970-01-01T00:00:00Z' AND last_heartbeat < '10000-01-01T00:00:00Z') NOT VALID;
ALTER TABLE workflow_runs DROP CONSTRAINT IF EXISTS workflow_runs_created_at_valid;
ALTER TABLE workflow_runs ADD CONSTRAINT workflow_runs_created_at_valid CHECK (created_at >= '1970-01-01T00:00:00Z' AND created_at < '10000-01-01T00:00:00Z') NOT VALID;
ALTER TABLE workflow_runs DROP CONSTRAINT IF EXISTS workflow_runs_updated_at_valid;
ALTER TABLE workflow_runs ADD CONSTRAINT workflow_runs_updated_at_valid CHECK (updated_at >= '1970-01-01T00:00:00Z' AND updated_at < '10000-01-01T00:00:00Z') NOT VALID;
ALTER TABLE workflow_node_executions DROP CONSTRAINT IF EXISTS workflow_node_executions_started_at_valid;
ALTER TABLE workflow_node_executions ADD CONSTRAINT workflow_node_executions_started_at_valid CHECK (started_at >= '1970-01-01T00:00:00Z' AND started_at < '10000-01-01T00:00:00Z') NOT VALID;
ALTER TABLE workflow_node_executions DROP CONSTRAINT IF EXISTS workflow_node_executions_finished_at_valid;
ALTER TABLE workflow_node_executions ADD CONSTRAINT workflow_node_executions_finished_at_valid CHECK (finished_at >= '1970-01-01T00:00:00Z' AND finished_at < '10000-01-01T00:00:00Z') NOT VALID;

-- Entity refs: each an object of exactly entity_id and entity_kind, both non-empty strings.
-- Strict first, for the elements' own type (lax mode would unwrap an element
-- that is an array); then lax, where a missing key compares as false, so it is
-- refused too (`.type()` does not unwrap in lax mode).
ALTER TABLE ai_jobs DROP CONSTRAINT IF EXISTS ai_jobs_entity_refs_valid;
ALTER TABLE ai_jobs ADD CONSTRAINT ai_jobs_entity_refs_valid CHECK (
  jsonb_typeof(entity_refs) = 'array'
  AND NOT jsonb_path_exists(entity_refs, 'strict $[*] ? (@.type() != "object")')
  AND NOT jsonb_path_exists(entity_refs, 'lax $[*] ? (
    !(@.entity_id.type() == "string") || @.entity_id == ""
    || !(@.entity_kind.type() == "string") || @.entity_kind == ""
    || exists (@.keyvalue() ? (@.key != "entity_id" && @.key != "entity_kind"))
  )')
) NOT VALID;
