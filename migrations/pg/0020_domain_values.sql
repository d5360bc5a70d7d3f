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
--     ai_jobs_entity_refs_check looks only at the outer array (and still
--     refuses a value that is no array).
-- The library never writes any of these: this refuses only raw SQL. Each
-- refusal is a check_violation (23514) naming its constraint, table and
-- column, as 0012's metrics rule does, so the store reports it as every
-- failed CHECK (a StorageError keeping the SqlError).
--
-- Triggers on the tables the store updates, not CHECK ... NOT VALID: a CHECK
-- judges every row version an UPDATE writes, whatever it sets, so a row
-- stored before this migration with such a value (one the store reads as
-- CorruptRow) could no longer be changed at all — the claimer could not fail
-- it, and it would stay first in the queue for ever. These judge an inserted
-- row, and on UPDATE only a column whose value changes (SQLite's 0020 does
-- the same). Each trigger's WHEN holds the whole test, evaluated without a
-- PL/pgSQL call (0014): the function runs only on a row that is refused, to
-- name the column. Events are never updated (0003), so theirs are CHECKs,
-- NOT VALID: rows already stored are not judged.
--
-- Replay-safe: CREATE OR REPLACE, DROP ... IF EXISTS before CREATE or ADD.

CREATE OR REPLACE FUNCTION ai_jobs_domain_values() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  broken text;
BEGIN
  -- Runs only on a row its trigger's WHEN found refused: which column, for the error.
  IF (TG_OP = 'INSERT' OR NEW.id IS DISTINCT FROM OLD.id) AND NEW.id = '00000000-0000-0000-0000-000000000000' THEN
    broken := 'id:ai_jobs_id_uuid';
  ELSIF (TG_OP = 'INSERT' OR NEW.trace_id IS DISTINCT FROM OLD.trace_id) AND NEW.trace_id = '00000000-0000-0000-0000-000000000000' THEN
    broken := 'trace_id:ai_jobs_trace_id_uuid';
  ELSIF (TG_OP = 'INSERT' OR NEW.workflow_run_id IS DISTINCT FROM OLD.workflow_run_id) AND NEW.workflow_run_id = '00000000-0000-0000-0000-000000000000' THEN
    broken := 'workflow_run_id:ai_jobs_workflow_run_id_uuid';
  ELSIF (TG_OP = 'INSERT' OR NEW.created_at IS DISTINCT FROM OLD.created_at) AND (NEW.created_at < '1970-01-01T00:00:00Z' OR NEW.created_at >= '10000-01-01T00:00:00Z') THEN
    broken := 'created_at:ai_jobs_created_at_valid';
  ELSIF (TG_OP = 'INSERT' OR NEW.updated_at IS DISTINCT FROM OLD.updated_at) AND (NEW.updated_at < '1970-01-01T00:00:00Z' OR NEW.updated_at >= '10000-01-01T00:00:00Z') THEN
    broken := 'updated_at:ai_jobs_updated_at_valid';
  ELSIF (TG_OP = 'INSERT' OR NEW.entity_refs IS DISTINCT FROM OLD.entity_refs) AND (NEW.entity_refs <> '[]'::jsonb AND jsonb_typeof(NEW.entity_refs) = 'array'
      AND (jsonb_path_exists(NEW.entity_refs, 'strict $[*] ? (@.type() != "object")')
        OR jsonb_path_exists(NEW.entity_refs, 'lax $[*] ? (
          !(@.entity_id.type() == "string") || @.entity_id == ""
          || !(@.entity_kind.type() == "string") || @.entity_kind == ""
          || exists (@.keyvalue() ? (@.key != "entity_id" && @.key != "entity_kind")))'))) THEN
    broken := 'entity_refs:ai_jobs_entity_refs_valid';
  END IF;
  IF broken IS NOT NULL THEN
    RAISE EXCEPTION 'new row for relation "%" violates check constraint "%"', TG_TABLE_NAME, split_part(broken, ':', 2)
      USING ERRCODE = 'check_violation', CONSTRAINT = split_part(broken, ':', 2),
        SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME, COLUMN = split_part(broken, ':', 1),
        DETAIL = format('Failing row has id %s.', NEW.id);
  END IF;
  RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS ai_jobs_domain_values_insert ON ai_jobs;
CREATE TRIGGER ai_jobs_domain_values_insert
  BEFORE INSERT ON ai_jobs
  FOR EACH ROW WHEN (
    NEW.id = '00000000-0000-0000-0000-000000000000'
    OR NEW.trace_id = '00000000-0000-0000-0000-000000000000'
    OR NEW.workflow_run_id = '00000000-0000-0000-0000-000000000000'
    OR (NEW.created_at < '1970-01-01T00:00:00Z' OR NEW.created_at >= '10000-01-01T00:00:00Z')
    OR (NEW.updated_at < '1970-01-01T00:00:00Z' OR NEW.updated_at >= '10000-01-01T00:00:00Z')
    OR (NEW.entity_refs <> '[]'::jsonb AND jsonb_typeof(NEW.entity_refs) = 'array'
      AND (jsonb_path_exists(NEW.entity_refs, 'strict $[*] ? (@.type() != "object")')
        OR jsonb_path_exists(NEW.entity_refs, 'lax $[*] ? (
          !(@.entity_id.type() == "string") || @.entity_id == ""
          || !(@.entity_kind.type() == "string") || @.entity_kind == ""
          || exists (@.keyvalue() ? (@.key != "entity_id" && @.key != "entity_kind")))')))
  )
  EXECUTE FUNCTION ai_jobs_domain_values();

DROP TRIGGER IF EXISTS ai_jobs_domain_values_update ON ai_jobs;
CREATE TRIGGER ai_jobs_domain_values_update
  BEFORE UPDATE OF id, trace_id, workflow_run_id, created_at, updated_at, entity_refs ON ai_jobs
  FOR EACH ROW WHEN (
    (NEW.id IS DISTINCT FROM OLD.id AND NEW.id = '00000000-0000-0000-0000-000000000000')
    OR (NEW.trace_id IS DISTINCT FROM OLD.trace_id AND NEW.trace_id = '00000000-0000-0000-0000-000000000000')
    OR (NEW.workflow_run_id IS DISTINCT FROM OLD.workflow_run_id AND NEW.workflow_run_id = '00000000-0000-0000-0000-000000000000')
    OR (NEW.created_at IS DISTINCT FROM OLD.created_at AND (NEW.created_at < '1970-01-01T00:00:00Z' OR NEW.created_at >= '10000-01-01T00:00:00Z'))
    OR (NEW.updated_at IS DISTINCT FROM OLD.updated_at AND (NEW.updated_at < '1970-01-01T00:00:00Z' OR NEW.updated_at >= '10000-01-01T00:00:00Z'))
    OR (NEW.entity_refs IS DISTINCT FROM OLD.entity_refs AND (NEW.entity_refs <> '[]'::jsonb AND jsonb_typeof(NEW.entity_refs) = 'array'
      AND (jsonb_path_exists(NEW.entity_refs, 'strict $[*] ? (@.type() != "object")')
        OR jsonb_path_exists(NEW.entity_refs, 'lax $[*] ? (
          !(@.entity_id.type() == "string") || @.entity_id == ""
          || !(@.entity_kind.type() == "string") || @.entity_kind == ""
          || exists (@.keyvalue() ? (@.key != "entity_id" && @.key != "entity_kind")))'))))
  )
  EXECUTE FUNCTION ai_jobs_domain_values();

CREATE OR REPLACE FUNCTION workflow_runs_domain_values() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  broken text;
BEGIN
  -- Runs only on a row its trigger's WHEN found refused: which column, for the error.
  IF (TG_OP = 'INSERT' OR NEW.id IS DISTINCT FROM OLD.id) AND NEW.id = '00000000-0000-0000-0000-000000000000' THEN
    broken := 'id:workflow_runs_id_uuid';
  ELSIF (TG_OP = 'INSERT' OR NEW.job_id IS DISTINCT FROM OLD.job_id) AND NEW.job_id = '00000000-0000-0000-0000-000000000000' THEN
    broken := 'job_id:workflow_runs_job_id_uuid';
  ELSIF (TG_OP = 'INSERT' OR NEW.last_heartbeat IS DISTINCT FROM OLD.last_heartbeat) AND (NEW.last_heartbeat < '1970-01-01T00:00:00Z' OR NEW.last_heartbeat >= '10000-01-01T00:00:00Z') THEN
    broken := 'last_heartbeat:workflow_runs_last_heartbeat_valid';
  ELSIF (TG_OP = 'INSERT' OR NEW.created_at IS DISTINCT FROM OLD.created_at) AND (NEW.created_at < '1970-01-01T00:00:00Z' OR NEW.created_at >= '10000-01-01T00:00:00Z') THEN
    broken := 'created_at:workflow_runs_created_at_valid';
  ELSIF (TG_OP = 'INSERT' OR NEW.updated_at IS DISTINCT FROM OLD.updated_at) AND (NEW.updated_at < '1970-01-01T00:00:00Z' OR NEW.updated_at >= '10000-01-01T00:00:00Z') THEN
    broken := 'updated_at:workflow_runs_updated_at_valid';
  END IF;
  IF broken IS NOT NULL THEN
    RAISE EXCEPTION 'new row for relation "%" violates check constraint "%"', TG_TABLE_NAME, split_part(broken, ':', 2)
      USING ERRCODE = 'check_violation', CONSTRAINT = split_part(broken, ':', 2),
        SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME, COLUMN = split_part(broken, ':', 1),
        DETAIL = format('Failing row has id %s.', NEW.id);
  END IF;
  RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS workflow_runs_domain_values_insert ON workflow_runs;
CREATE TRIGGER workflow_runs_domain_values_insert
  BEFORE INSERT ON workflow_runs
  FOR EACH ROW WHEN (
    NEW.id = '00000000-0000-0000-0000-000000000000'
    OR NEW.job_id = '00000000-0000-0000-0000-000000000000'
    OR (NEW.last_heartbeat < '1970-01-01T00:00:00Z' OR NEW.last_heartbeat >= '10000-01-01T00:00:00Z')
    OR (NEW.created_at < '1970-01-01T00:00:00Z' OR NEW.created_at >= '10000-01-01T00:00:00Z')
    OR (NEW.updated_at < '1970-01-01T00:00:00Z' OR NEW.updated_at >= '10000-01-01T00:00:00Z')
  )
  EXECUTE FUNCTION workflow_runs_domain_values();

DROP TRIGGER IF EXISTS workflow_runs_domain_values_update ON workflow_runs;
CREATE TRIGGER workflow_runs_domain_values_update
  BEFORE UPDATE OF id, job_id, last_heartbeat, created_at, updated_at ON workflow_runs
  FOR EACH ROW WHEN (
    (NEW.id IS DISTINCT FROM OLD.id AND NEW.id = '00000000-0000-0000-0000-000000000000')
    OR (NEW.job_id IS DISTINCT FROM OLD.job_id AND NEW.job_id = '00000000-0000-0000-0000-000000000000')
    OR (NEW.last_heartbeat IS DISTINCT FROM OLD.last_heartbeat AND (NEW.last_heartbeat < '1970-01-01T00:00:00Z' OR NEW.last_heartbeat >= '10000-01-01T00:00:00Z'))
    OR (NEW.created_at IS DISTINCT FROM OLD.created_at AND (NEW.created_at < '1970-01-01T00:00:00Z' OR NEW.created_at >= '10000-01-01T00:00:00Z'))
    OR (NEW.updated_at IS DISTINCT FROM OLD.updated_at AND (NEW.updated_at < '1970-01-01T00:00:00Z' OR NEW.updated_at >= '10000-01-01T00:00:00Z'))
  )
  EXECUTE FUNCTION workflow_runs_domain_values();

CREATE OR REPLACE FUNCTION workflow_node_executions_domain_values() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  broken text;
BEGIN
  -- Runs only on a row its trigger's WHEN found refused: which column, for the error.
  IF (TG_OP = 'INSERT' OR NEW.id IS DISTINCT FROM OLD.id) AND NEW.id = '00000000-0000-0000-0000-000000000000' THEN
    broken := 'id:workflow_node_executions_id_uuid';
  ELSIF (TG_OP = 'INSERT' OR NEW.workflow_run_id IS DISTINCT FROM OLD.workflow_run_id) AND NEW.workflow_run_id = '00000000-0000-0000-0000-000000000000' THEN
    broken := 'workflow_run_id:workflow_node_executions_workflow_run_id_uuid';
  ELSIF (TG_OP = 'INSERT' OR NEW.started_at IS DISTINCT FROM OLD.started_at) AND (NEW.started_at < '1970-01-01T00:00:00Z' OR NEW.started_at >= '10000-01-01T00:00:00Z') THEN
    broken := 'started_at:workflow_node_executions_started_at_valid';
  ELSIF (TG_OP = 'INSERT' OR NEW.finished_at IS DISTINCT FROM OLD.finished_at) AND (NEW.finished_at < '1970-01-01T00:00:00Z' OR NEW.finished_at >= '10000-01-01T00:00:00Z') THEN
    broken := 'finished_at:workflow_node_executions_finished_at_valid';
  END IF;
  IF broken IS NOT NULL THEN
    RAISE EXCEPTION 'new row for relation "%" violates check constraint "%"', TG_TABLE_NAME, split_part(broken, ':', 2)
      USING ERRCODE = 'check_violation', CONSTRAINT = split_part(broken, ':', 2),
        SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME, COLUMN = split_part(broken, ':', 1),
        DETAIL = format('Failing row has id %s.', NEW.id);
  END IF;
  RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS workflow_node_executions_domain_values_insert ON workflow_node_executions;
CREATE TRIGGER workflow_node_executions_domain_values_insert
  BEFORE INSERT ON workflow_node_executions
  FOR EACH ROW WHEN (
    NEW.id = '00000000-0000-0000-0000-000000000000'
    OR NEW.workflow_run_id = '00000000-0000-0000-0000-000000000000'
    OR (NEW.started_at < '1970-01-01T00:00:00Z' OR NEW.started_at >= '10000-01-01T00:00:00Z')
    OR (NEW.finished_at < '1970-01-01T00:00:00Z' OR NEW.finished_at >= '10000-01-01T00:00:00Z')
  )
  EXECUTE FUNCTION workflow_node_executions_domain_values();

DROP TRIGGER IF EXISTS workflow_node_executions_domain_values_update ON workflow_node_executions;
CREATE TRIGGER workflow_node_executions_domain_values_update
  BEFORE UPDATE OF id, workflow_run_id, started_at, finished_at ON workflow_node_executions
  FOR EACH ROW WHEN (
    (NEW.id IS DISTINCT FROM OLD.id AND NEW.id = '00000000-0000-0000-0000-000000000000')
    OR (NEW.workflow_run_id IS DISTINCT FROM OLD.workflow_run_id AND NEW.workflow_run_id = '00000000-0000-0000-0000-000000000000')
    OR (NEW.started_at IS DISTINCT FROM OLD.started_at AND (NEW.started_at < '1970-01-01T00:00:00Z' OR NEW.started_at >= '10000-01-01T00:00:00Z'))
    OR (NEW.finished_at IS DISTINCT FROM OLD.finished_at AND (NEW.finished_at < '1970-01-01T00:00:00Z' OR NEW.finished_at >= '10000-01-01T00:00:00Z'))
  )
  EXECUTE FUNCTION workflow_node_executions_domain_values();

-- Events are never updated (0003 refuses it): a CHECK, which judges only the rows written.
ALTER TABLE flight_recorder_events DROP CONSTRAINT IF EXISTS flight_recorder_events_event_id_uuid;
ALTER TABLE flight_recorder_events ADD CONSTRAINT flight_recorder_events_event_id_uuid CHECK (event_id <> '00000000-0000-0000-0000-000000000000') NOT VALID;
ALTER TABLE flight_recorder_events DROP CONSTRAINT IF EXISTS flight_recorder_events_trace_id_uuid;
ALTER TABLE flight_recorder_events ADD CONSTRAINT flight_recorder_events_trace_id_uuid CHECK (trace_id <> '00000000-0000-0000-0000-000000000000') NOT VALID;
ALTER TABLE flight_recorder_events DROP CONSTRAINT IF EXISTS flight_recorder_events_job_id_uuid;
ALTER TABLE flight_recorder_events ADD CONSTRAINT flight_recorder_events_job_id_uuid CHECK (job_id <> '00000000-0000-0000-0000-000000000000') NOT VALID;
ALTER TABLE flight_recorder_events DROP CONSTRAINT IF EXISTS flight_recorder_events_workflow_run_id_uuid;
ALTER TABLE flight_recorder_events ADD CONSTRAINT flight_recorder_events_workflow_run_id_uuid CHECK (workflow_run_id <> '00000000-0000-0000-0000-000000000000') NOT VALID;
