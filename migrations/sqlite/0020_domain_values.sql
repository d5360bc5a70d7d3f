-- 0020 (SQLite): the database refuses the ids, instants and entity refs the
-- domain cannot read back, as PostgreSQL does (its 0020).
--
-- An outside probe wrote raw rows that this database took and the store then
-- read as CorruptRow:
--   * an id that is no lower-case UUID ('job-1', an upper-case UUID, the nil
--     UUID) in any id column the domain types as one: the jobs', runs',
--     node executions' and events' own ids, trace ids, and the ids they point
--     at. PostgreSQL's uuid type refuses the first two (and prints every uuid
--     in lower case); its 0020 refuses the nil UUID.
--   * an instant before 1970 (the form CHECKs of 0002/0003/0007/0013 accept
--     any four-digit year; the domain holds 1970 to 9999, and the form's
--     24 characters already rule out 10000).
--   * entity_refs whose elements are no {entity_id, entity_kind} object of
--     two non-empty strings (`[1]`, `[{}]`, an extra or a repeated key): the
--     CHECK ai_jobs_entity_refs_array looks only at the outer array.
-- The library never writes any of these (its values pass the domain's schemas
-- first): this refuses only raw SQL, and names the constraint the value
-- breaks, so the store reports it as it reports a failed CHECK (a
-- StorageError keeping the driver's error).
--
-- Triggers, not CHECKs: SQLite changes a CHECK only by rebuilding the table
-- (0013), and rows already stored are not judged again (a legacy row still
-- opens; an UPDATE judges only the columns it changes). They fire on the hot
-- inserts (jobs, runs, node executions, events), so each table has one
-- BEFORE INSERT trigger whose WHEN is a few length/GLOB/range tests (the
-- entity refs are walked only when they are not '[]'), its body naming the
-- failing column only once a row is refused; plus one BEFORE UPDATE OF the
-- judged columns (events are never updated: 0003 refuses it).
--
-- Replay-safe: each trigger dropped if it exists, then created.

DROP TRIGGER IF EXISTS ai_jobs_domain_values_insert;
CREATE TRIGGER ai_jobs_domain_values_insert BEFORE INSERT ON ai_jobs
WHEN
    (NEW.id IS NOT NULL AND NOT (length(NEW.id) = 36 AND NEW.id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.id, '-', '')) = 32 AND NEW.id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.id) = 'text'))
  OR   (NEW.trace_id IS NOT NULL AND NOT (length(NEW.trace_id) = 36 AND NEW.trace_id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.trace_id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.trace_id, '-', '')) = 32 AND NEW.trace_id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.trace_id) = 'text'))
  OR   (NEW.workflow_run_id IS NOT NULL AND NOT (length(NEW.workflow_run_id) = 36 AND NEW.workflow_run_id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.workflow_run_id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.workflow_run_id, '-', '')) = 32 AND NEW.workflow_run_id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.workflow_run_id) = 'text'))
  OR   (NEW.created_at < '1970-01-01T00:00:00.000Z')
  OR   (NEW.updated_at < '1970-01-01T00:00:00.000Z')
  OR   (NEW.run_after < '1970-01-01T00:00:00.000Z')
  OR   (NEW.entity_refs <> '[]' AND json_valid(NEW.entity_refs) AND EXISTS (
    SELECT 1 FROM json_each(NEW.entity_refs) AS ref
    WHERE ref.type IS NOT 'object'
      OR json_type(ref.value, '$.entity_id') IS NOT 'text' OR json_extract(ref.value, '$.entity_id') = ''
      OR json_type(ref.value, '$.entity_kind') IS NOT 'text' OR json_extract(ref.value, '$.entity_kind') = ''
      OR (SELECT count(*) FROM json_each(ref.value)) <> 2))
BEGIN
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_id_uuid (not a lower-case UUID other than the nil UUID)') WHERE NEW.id IS NOT NULL AND NOT (length(NEW.id) = 36 AND NEW.id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.id, '-', '')) = 32 AND NEW.id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.id) = 'text');
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_trace_id_uuid (not a lower-case UUID other than the nil UUID)') WHERE NEW.trace_id IS NOT NULL AND NOT (length(NEW.trace_id) = 36 AND NEW.trace_id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.trace_id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.trace_id, '-', '')) = 32 AND NEW.trace_id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.trace_id) = 'text');
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_workflow_run_id_uuid (not a lower-case UUID other than the nil UUID)') WHERE NEW.workflow_run_id IS NOT NULL AND NOT (length(NEW.workflow_run_id) = 36 AND NEW.workflow_run_id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.workflow_run_id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.workflow_run_id, '-', '')) = 32 AND NEW.workflow_run_id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.workflow_run_id) = 'text');
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_created_at_form (before 1970)') WHERE NEW.created_at < '1970-01-01T00:00:00.000Z';
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_updated_at_form (before 1970)') WHERE NEW.updated_at < '1970-01-01T00:00:00.000Z';
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_run_after_form (before 1970)') WHERE NEW.run_after < '1970-01-01T00:00:00.000Z';
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_entity_refs_array (an entity ref that is not an object of a non-empty entity_id and entity_kind)') WHERE NEW.entity_refs <> '[]' AND json_valid(NEW.entity_refs) AND EXISTS (
    SELECT 1 FROM json_each(NEW.entity_refs) AS ref
    WHERE ref.type IS NOT 'object'
      OR json_type(ref.value, '$.entity_id') IS NOT 'text' OR json_extract(ref.value, '$.entity_id') = ''
      OR json_type(ref.value, '$.entity_kind') IS NOT 'text' OR json_extract(ref.value, '$.entity_kind') = ''
      OR (SELECT count(*) FROM json_each(ref.value)) <> 2);
END;

DROP TRIGGER IF EXISTS ai_jobs_domain_values_update;
CREATE TRIGGER ai_jobs_domain_values_update BEFORE UPDATE OF id, trace_id, workflow_run_id, created_at, updated_at, run_after, entity_refs ON ai_jobs
WHEN
    (NEW.id IS NOT OLD.id AND NEW.id IS NOT NULL AND NOT (length(NEW.id) = 36 AND NEW.id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.id, '-', '')) = 32 AND NEW.id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.id) = 'text'))
  OR   (NEW.trace_id IS NOT OLD.trace_id AND NEW.trace_id IS NOT NULL AND NOT (length(NEW.trace_id) = 36 AND NEW.trace_id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.trace_id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.trace_id, '-', '')) = 32 AND NEW.trace_id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.trace_id) = 'text'))
  OR   (NEW.workflow_run_id IS NOT OLD.workflow_run_id AND NEW.workflow_run_id IS NOT NULL AND NOT (length(NEW.workflow_run_id) = 36 AND NEW.workflow_run_id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.workflow_run_id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.workflow_run_id, '-', '')) = 32 AND NEW.workflow_run_id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.workflow_run_id) = 'text'))
  OR   (NEW.created_at IS NOT OLD.created_at AND NEW.created_at < '1970-01-01T00:00:00.000Z')
  OR   (NEW.updated_at IS NOT OLD.updated_at AND NEW.updated_at < '1970-01-01T00:00:00.000Z')
  OR   (NEW.run_after IS NOT OLD.run_after AND NEW.run_after < '1970-01-01T00:00:00.000Z')
  OR   (NEW.entity_refs IS NOT OLD.entity_refs AND NEW.entity_refs <> '[]' AND json_valid(NEW.entity_refs) AND EXISTS (
    SELECT 1 FROM json_each(NEW.entity_refs) AS ref
    WHERE ref.type IS NOT 'object'
      OR json_type(ref.value, '$.entity_id') IS NOT 'text' OR json_extract(ref.value, '$.entity_id') = ''
      OR json_type(ref.value, '$.entity_kind') IS NOT 'text' OR json_extract(ref.value, '$.entity_kind') = ''
      OR (SELECT count(*) FROM json_each(ref.value)) <> 2))
BEGIN
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_id_uuid (not a lower-case UUID other than the nil UUID)') WHERE NEW.id IS NOT OLD.id AND NEW.id IS NOT NULL AND NOT (length(NEW.id) = 36 AND NEW.id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.id, '-', '')) = 32 AND NEW.id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.id) = 'text');
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_trace_id_uuid (not a lower-case UUID other than the nil UUID)') WHERE NEW.trace_id IS NOT OLD.trace_id AND NEW.trace_id IS NOT NULL AND NOT (length(NEW.trace_id) = 36 AND NEW.trace_id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.trace_id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.trace_id, '-', '')) = 32 AND NEW.trace_id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.trace_id) = 'text');
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_workflow_run_id_uuid (not a lower-case UUID other than the nil UUID)') WHERE NEW.workflow_run_id IS NOT OLD.workflow_run_id AND NEW.workflow_run_id IS NOT NULL AND NOT (length(NEW.workflow_run_id) = 36 AND NEW.workflow_run_id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.workflow_run_id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.workflow_run_id, '-', '')) = 32 AND NEW.workflow_run_id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.workflow_run_id) = 'text');
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_created_at_form (before 1970)') WHERE NEW.created_at IS NOT OLD.created_at AND NEW.created_at < '1970-01-01T00:00:00.000Z';
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_updated_at_form (before 1970)') WHERE NEW.updated_at IS NOT OLD.updated_at AND NEW.updated_at < '1970-01-01T00:00:00.000Z';
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_run_after_form (before 1970)') WHERE NEW.run_after IS NOT OLD.run_after AND NEW.run_after < '1970-01-01T00:00:00.000Z';
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_entity_refs_array (an entity ref that is not an object of a non-empty entity_id and entity_kind)') WHERE NEW.entity_refs IS NOT OLD.entity_refs AND NEW.entity_refs <> '[]' AND json_valid(NEW.entity_refs) AND EXISTS (
    SELECT 1 FROM json_each(NEW.entity_refs) AS ref
    WHERE ref.type IS NOT 'object'
      OR json_type(ref.value, '$.entity_id') IS NOT 'text' OR json_extract(ref.value, '$.entity_id') = ''
      OR json_type(ref.value, '$.entity_kind') IS NOT 'text' OR json_extract(ref.value, '$.entity_kind') = ''
      OR (SELECT count(*) FROM json_each(ref.value)) <> 2);
END;

DROP TRIGGER IF EXISTS workflow_runs_domain_values_insert;
CREATE TRIGGER workflow_runs_domain_values_insert BEFORE INSERT ON workflow_runs
WHEN
    (NEW.id IS NOT NULL AND NOT (length(NEW.id) = 36 AND NEW.id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.id, '-', '')) = 32 AND NEW.id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.id) = 'text'))
  OR   (NEW.job_id IS NOT NULL AND NOT (length(NEW.job_id) = 36 AND NEW.job_id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.job_id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.job_id, '-', '')) = 32 AND NEW.job_id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.job_id) = 'text'))
  OR   (NEW.last_heartbeat < '1970-01-01T00:00:00.000Z')
  OR   (NEW.created_at < '1970-01-01T00:00:00.000Z')
  OR   (NEW.updated_at < '1970-01-01T00:00:00.000Z')
BEGIN
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_runs_id_uuid (not a lower-case UUID other than the nil UUID)') WHERE NEW.id IS NOT NULL AND NOT (length(NEW.id) = 36 AND NEW.id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.id, '-', '')) = 32 AND NEW.id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.id) = 'text');
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_runs_job_id_uuid (not a lower-case UUID other than the nil UUID)') WHERE NEW.job_id IS NOT NULL AND NOT (length(NEW.job_id) = 36 AND NEW.job_id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.job_id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.job_id, '-', '')) = 32 AND NEW.job_id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.job_id) = 'text');
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_runs_last_heartbeat_form (before 1970)') WHERE NEW.last_heartbeat < '1970-01-01T00:00:00.000Z';
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_runs_created_at_form (before 1970)') WHERE NEW.created_at < '1970-01-01T00:00:00.000Z';
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_runs_updated_at_form (before 1970)') WHERE NEW.updated_at < '1970-01-01T00:00:00.000Z';
END;

DROP TRIGGER IF EXISTS workflow_runs_domain_values_update;
CREATE TRIGGER workflow_runs_domain_values_update BEFORE UPDATE OF id, job_id, last_heartbeat, created_at, updated_at ON workflow_runs
WHEN
    (NEW.id IS NOT OLD.id AND NEW.id IS NOT NULL AND NOT (length(NEW.id) = 36 AND NEW.id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.id, '-', '')) = 32 AND NEW.id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.id) = 'text'))
  OR   (NEW.job_id IS NOT OLD.job_id AND NEW.job_id IS NOT NULL AND NOT (length(NEW.job_id) = 36 AND NEW.job_id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.job_id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.job_id, '-', '')) = 32 AND NEW.job_id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.job_id) = 'text'))
  OR   (NEW.last_heartbeat IS NOT OLD.last_heartbeat AND NEW.last_heartbeat < '1970-01-01T00:00:00.000Z')
  OR   (NEW.created_at IS NOT OLD.created_at AND NEW.created_at < '1970-01-01T00:00:00.000Z')
  OR   (NEW.updated_at IS NOT OLD.updated_at AND NEW.updated_at < '1970-01-01T00:00:00.000Z')
BEGIN
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_runs_id_uuid (not a lower-case UUID other than the nil UUID)') WHERE NEW.id IS NOT OLD.id AND NEW.id IS NOT NULL AND NOT (length(NEW.id) = 36 AND NEW.id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.id, '-', '')) = 32 AND NEW.id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.id) = 'text');
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_runs_job_id_uuid (not a lower-case UUID other than the nil UUID)') WHERE NEW.job_id IS NOT OLD.job_id AND NEW.job_id IS NOT NULL AND NOT (length(NEW.job_id) = 36 AND NEW.job_id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.job_id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.job_id, '-', '')) = 32 AND NEW.job_id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.job_id) = 'text');
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_runs_last_heartbeat_form (before 1970)') WHERE NEW.last_heartbeat IS NOT OLD.last_heartbeat AND NEW.last_heartbeat < '1970-01-01T00:00:00.000Z';
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_runs_created_at_form (before 1970)') WHERE NEW.created_at IS NOT OLD.created_at AND NEW.created_at < '1970-01-01T00:00:00.000Z';
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_runs_updated_at_form (before 1970)') WHERE NEW.updated_at IS NOT OLD.updated_at AND NEW.updated_at < '1970-01-01T00:00:00.000Z';
END;

DROP TRIGGER IF EXISTS workflow_node_executions_domain_values_insert;
CREATE TRIGGER workflow_node_executions_domain_values_insert BEFORE INSERT ON workflow_node_executions
WHEN
    (NEW.id IS NOT NULL AND NOT (length(NEW.id) = 36 AND NEW.id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.id, '-', '')) = 32 AND NEW.id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.id) = 'text'))
  OR   (NEW.workflow_run_id IS NOT NULL AND NOT (length(NEW.workflow_run_id) = 36 AND NEW.workflow_run_id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.workflow_run_id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.workflow_run_id, '-', '')) = 32 AND NEW.workflow_run_id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.workflow_run_id) = 'text'))
  OR   (NEW.started_at < '1970-01-01T00:00:00.000Z')
  OR   (NEW.finished_at < '1970-01-01T00:00:00.000Z')
BEGIN
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_node_executions_id_uuid (not a lower-case UUID other than the nil UUID)') WHERE NEW.id IS NOT NULL AND NOT (length(NEW.id) = 36 AND NEW.id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.id, '-', '')) = 32 AND NEW.id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.id) = 'text');
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_node_executions_workflow_run_id_uuid (not a lower-case UUID other than the nil UUID)') WHERE NEW.workflow_run_id IS NOT NULL AND NOT (length(NEW.workflow_run_id) = 36 AND NEW.workflow_run_id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.workflow_run_id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.workflow_run_id, '-', '')) = 32 AND NEW.workflow_run_id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.workflow_run_id) = 'text');
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_node_executions_started_at_form (before 1970)') WHERE NEW.started_at < '1970-01-01T00:00:00.000Z';
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_node_executions_finished_at_form (before 1970)') WHERE NEW.finished_at < '1970-01-01T00:00:00.000Z';
END;

DROP TRIGGER IF EXISTS workflow_node_executions_domain_values_update;
CREATE TRIGGER workflow_node_executions_domain_values_update BEFORE UPDATE OF id, workflow_run_id, started_at, finished_at ON workflow_node_executions
WHEN
    (NEW.id IS NOT OLD.id AND NEW.id IS NOT NULL AND NOT (length(NEW.id) = 36 AND NEW.id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.id, '-', '')) = 32 AND NEW.id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.id) = 'text'))
  OR   (NEW.workflow_run_id IS NOT OLD.workflow_run_id AND NEW.workflow_run_id IS NOT NULL AND NOT (length(NEW.workflow_run_id) = 36 AND NEW.workflow_run_id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.workflow_run_id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.workflow_run_id, '-', '')) = 32 AND NEW.workflow_run_id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.workflow_run_id) = 'text'))
  OR   (NEW.started_at IS NOT OLD.started_at AND NEW.started_at < '1970-01-01T00:00:00.000Z')
  OR   (NEW.finished_at IS NOT OLD.finished_at AND NEW.finished_at < '1970-01-01T00:00:00.000Z')
BEGIN
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_node_executions_id_uuid (not a lower-case UUID other than the nil UUID)') WHERE NEW.id IS NOT OLD.id AND NEW.id IS NOT NULL AND NOT (length(NEW.id) = 36 AND NEW.id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.id, '-', '')) = 32 AND NEW.id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.id) = 'text');
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_node_executions_workflow_run_id_uuid (not a lower-case UUID other than the nil UUID)') WHERE NEW.workflow_run_id IS NOT OLD.workflow_run_id AND NEW.workflow_run_id IS NOT NULL AND NOT (length(NEW.workflow_run_id) = 36 AND NEW.workflow_run_id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.workflow_run_id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.workflow_run_id, '-', '')) = 32 AND NEW.workflow_run_id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.workflow_run_id) = 'text');
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_node_executions_started_at_form (before 1970)') WHERE NEW.started_at IS NOT OLD.started_at AND NEW.started_at < '1970-01-01T00:00:00.000Z';
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_node_executions_finished_at_form (before 1970)') WHERE NEW.finished_at IS NOT OLD.finished_at AND NEW.finished_at < '1970-01-01T00:00:00.000Z';
END;

DROP TRIGGER IF EXISTS flight_recorder_events_domain_values_insert;
CREATE TRIGGER flight_recorder_events_domain_values_insert BEFORE INSERT ON flight_recorder_events
WHEN
    (NEW.event_id IS NOT NULL AND NOT (length(NEW.event_id) = 36 AND NEW.event_id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.event_id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.event_id, '-', '')) = 32 AND NEW.event_id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.event_id) = 'text'))
  OR   (NEW.trace_id IS NOT NULL AND NOT (length(NEW.trace_id) = 36 AND NEW.trace_id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.trace_id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.trace_id, '-', '')) = 32 AND NEW.trace_id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.trace_id) = 'text'))
  OR   (NEW.job_id IS NOT NULL AND NOT (length(NEW.job_id) = 36 AND NEW.job_id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.job_id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.job_id, '-', '')) = 32 AND NEW.job_id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.job_id) = 'text'))
  OR   (NEW.workflow_run_id IS NOT NULL AND NOT (length(NEW.workflow_run_id) = 36 AND NEW.workflow_run_id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.workflow_run_id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.workflow_run_id, '-', '')) = 32 AND NEW.workflow_run_id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.workflow_run_id) = 'text'))
  OR   (NEW.timestamp < '1970-01-01T00:00:00.000Z')
BEGIN
  SELECT RAISE(ABORT, 'CHECK constraint failed: flight_recorder_events_event_id_uuid (not a lower-case UUID other than the nil UUID)') WHERE NEW.event_id IS NOT NULL AND NOT (length(NEW.event_id) = 36 AND NEW.event_id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.event_id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.event_id, '-', '')) = 32 AND NEW.event_id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.event_id) = 'text');
  SELECT RAISE(ABORT, 'CHECK constraint failed: flight_recorder_events_trace_id_uuid (not a lower-case UUID other than the nil UUID)') WHERE NEW.trace_id IS NOT NULL AND NOT (length(NEW.trace_id) = 36 AND NEW.trace_id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.trace_id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.trace_id, '-', '')) = 32 AND NEW.trace_id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.trace_id) = 'text');
  SELECT RAISE(ABORT, 'CHECK constraint failed: flight_recorder_events_job_id_uuid (not a lower-case UUID other than the nil UUID)') WHERE NEW.job_id IS NOT NULL AND NOT (length(NEW.job_id) = 36 AND NEW.job_id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.job_id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.job_id, '-', '')) = 32 AND NEW.job_id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.job_id) = 'text');
  SELECT RAISE(ABORT, 'CHECK constraint failed: flight_recorder_events_workflow_run_id_uuid (not a lower-case UUID other than the nil UUID)') WHERE NEW.workflow_run_id IS NOT NULL AND NOT (length(NEW.workflow_run_id) = 36 AND NEW.workflow_run_id GLOB '????????-????-????-????-????????????'
      AND NOT NEW.workflow_run_id GLOB '*[^0-9a-f-]*' AND length(replace(NEW.workflow_run_id, '-', '')) = 32 AND NEW.workflow_run_id <> '00000000-0000-0000-0000-000000000000' AND typeof(NEW.workflow_run_id) = 'text');
  SELECT RAISE(ABORT, 'CHECK constraint failed: flight_recorder_events_timestamp_form (before 1970)') WHERE NEW.timestamp < '1970-01-01T00:00:00.000Z';
END;
