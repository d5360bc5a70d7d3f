-- 0026 (PostgreSQL): databases migrated by an earlier version of this
-- library get the schema this version's files give, and a worker of a
-- version from before 0018 marks the runs it beats taken.
--
-- 1. Two applied migrations were once rewritten in place, and the Migrator
-- never runs an applied file again (found by an outside probe):
--   * 0020 first added CHECK ... NOT VALID constraints on ai_jobs,
--     workflow_runs and workflow_node_executions; it now adds triggers
--     instead. A database migrated by the first form kept the CHECKs and got
--     no triggers: a job stored before 0020 with, say, entity_refs '[1]'
--     could then not be changed at all (a CHECK judges every row version an
--     UPDATE writes), so every claim failed on it with a StorageError and no
--     job was handed out, and cancelling it failed too. The CHECKs are
--     dropped and 0020's triggers created as it creates them today.
--   * 0016 first created only the run_offers table; it now also announces
--     every offer on the jobs channel. A database migrated by the first form
--     never announced one: a run resumed to the workers waited for a pool's
--     next poll. The announcing trigger is created as 0016 creates it today.
-- On a database that has them already, the same definitions are written
-- again: nothing changes.
--
-- 2. `taken` (0018) is set by the statements of this version that begin
-- running a run, heartbeats among them. A worker of a version before 0018
-- (which does not refuse a newer database) beats without setting it, so
-- Jobs.run of its job ran the program a second time. Now a change of
-- last_heartbeat that leaves taken false sets it, in the database; this
-- version's own heartbeats set it themselves, so the trigger's WHEN is
-- false for them and its function never runs. The one statement of this
-- version that beats a run and leaves it untaken (an offered run adopted
-- for a caller of Jobs.claimNext) marks it taken and then clears it
-- (offers.ts).
--
-- Replay-safe: DROP ... IF EXISTS, CREATE OR REPLACE, DROP TRIGGER IF EXISTS
-- before CREATE.

-- 0020's first form: the CHECKs its triggers replaced (its events' CHECKs are the same in both forms).
ALTER TABLE ai_jobs
  DROP CONSTRAINT IF EXISTS ai_jobs_id_uuid,
  DROP CONSTRAINT IF EXISTS ai_jobs_trace_id_uuid,
  DROP CONSTRAINT IF EXISTS ai_jobs_workflow_run_id_uuid,
  DROP CONSTRAINT IF EXISTS ai_jobs_created_at_valid,
  DROP CONSTRAINT IF EXISTS ai_jobs_updated_at_valid,
  DROP CONSTRAINT IF EXISTS ai_jobs_entity_refs_valid;
ALTER TABLE workflow_runs
  DROP CONSTRAINT IF EXISTS workflow_runs_id_uuid,
  DROP CONSTRAINT IF EXISTS workflow_runs_job_id_uuid,
  DROP CONSTRAINT IF EXISTS workflow_runs_last_heartbeat_valid,
  DROP CONSTRAINT IF EXISTS workflow_runs_created_at_valid,
  DROP CONSTRAINT IF EXISTS workflow_runs_updated_at_valid;
ALTER TABLE workflow_node_executions
  DROP CONSTRAINT IF EXISTS workflow_node_executions_id_uuid,
  DROP CONSTRAINT IF EXISTS workflow_node_executions_workflow_run_id_uuid,
  DROP CONSTRAINT IF EXISTS workflow_node_executions_started_at_valid,
  DROP CONSTRAINT IF EXISTS workflow_node_executions_finished_at_valid;

-- 0020's triggers, word for word as 0020 creates them.
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

-- 0016's announcement of an offer, word for word as 0016 creates it.
CREATE OR REPLACE FUNCTION ai_job_model_announce_offer() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  -- pg_notify returns void, which no variable can hold: its text ('') is kept.
  sent text;
BEGIN
  SELECT pg_notify('ai_job_model_jobs', json_build_object(
    'job_id', j.id,
    'state', j.status,
    'job_kind', j.job_kind,
    'run_after', floor(extract(epoch FROM j.run_after) * 1000)::bigint,
    'offered', true
  )::text)::text INTO sent
  FROM ai_jobs j WHERE j.id = NEW.job_id;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS run_offers_announce ON run_offers;
CREATE TRIGGER run_offers_announce
  AFTER INSERT ON run_offers
  FOR EACH ROW EXECUTE FUNCTION ai_job_model_announce_offer();

-- A heartbeat of a version before 0018 takes the run, as this version's do.
CREATE OR REPLACE FUNCTION workflow_runs_beat_takes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.taken := true;
  RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS workflow_runs_beat_takes ON workflow_runs;
CREATE TRIGGER workflow_runs_beat_takes
  BEFORE UPDATE OF last_heartbeat ON workflow_runs
  FOR EACH ROW WHEN (NOT NEW.taken AND NEW.last_heartbeat IS DISTINCT FROM OLD.last_heartbeat)
  EXECUTE FUNCTION workflow_runs_beat_takes();
