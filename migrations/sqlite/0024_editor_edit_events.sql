-- 0024: the Flight Recorder takes `editor_edit` events (FR-EVT-002, Master
-- Spec 11.5: an edit in a Monaco, canvas or sheet surface, addressed by
-- hashes). The events table's type CHECK lists the types it stores; the list
-- gains `editor_edit` and keeps every other type, so every stored row still
-- holds.
--
-- SQLite changes a CHECK only by rebuilding the table (0013's way, inside the
-- Migrator's transaction): rename the table (its indexes and triggers go with
-- it), create it again with the new list, copy every row with its rowid,
-- drop the old one (DROP TABLE drops its triggers before its rows, so the
-- append-only trigger does not fire), then every index and trigger again,
-- word for word as 0003-0023 left them. Rows are copied as stored: the
-- table's CHECKs judge them as they did when stored; the insert triggers of
-- 0020 and 0023 are not there yet and judge none (those migrations judged
-- only rows inserted after them, as this copy keeps).
--
-- Replay-safe: skipped once the table's CHECK names `editor_edit`.
-- skip-if: SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'flight_recorder_events' AND sql LIKE '%''editor_edit''%'

ALTER TABLE flight_recorder_events RENAME TO flight_recorder_events_0023;

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
      OR type = 'editor_edit'
      OR type = 'diagnostic'
      OR type = 'debug_bundle_export'
      OR type = 'security_violation')),
  trace_id TEXT NOT NULL,
  job_id TEXT,
  workflow_run_id TEXT,
  body TEXT NOT NULL CONSTRAINT flight_recorder_events_body_object
    CHECK (json_valid(body) AND json_type(body) IS 'object')
);

INSERT INTO flight_recorder_events (rowid, event_id, timestamp, actor, type, trace_id, job_id, workflow_run_id, body)
SELECT rowid, event_id, timestamp, actor, type, trace_id, job_id, workflow_run_id, body FROM flight_recorder_events_0023;

DROP TABLE flight_recorder_events_0023;

-- Every index and trigger again, as 0003-0023 left them.
-- index flight_recorder_events_by_time
CREATE INDEX flight_recorder_events_by_time ON flight_recorder_events (timestamp, event_id);

-- index flight_recorder_events_by_job
CREATE INDEX flight_recorder_events_by_job ON flight_recorder_events (job_id, timestamp);

-- index flight_recorder_events_by_trace
CREATE INDEX flight_recorder_events_by_trace ON flight_recorder_events (trace_id, timestamp);

-- index flight_recorder_events_by_type
CREATE INDEX flight_recorder_events_by_type ON flight_recorder_events (type, timestamp);

-- index flight_recorder_events_by_run_time
CREATE INDEX flight_recorder_events_by_run_time ON flight_recorder_events (workflow_run_id, timestamp)
  WHERE workflow_run_id IS NOT NULL;

-- trigger flight_recorder_events_refuse_delete
CREATE TRIGGER flight_recorder_events_refuse_delete
BEFORE DELETE ON flight_recorder_events
WHEN NOT EXISTS (
  SELECT 1 FROM flight_recorder_retention_grants AS g WHERE OLD.timestamp < g.cutoff
)
BEGIN
  SELECT RAISE(ABORT, 'flight_recorder_events is append-only: DELETE refused outside a retention purge');
END;

-- trigger flight_recorder_events_refuse_update
CREATE TRIGGER flight_recorder_events_refuse_update
BEFORE UPDATE ON flight_recorder_events
BEGIN
  SELECT RAISE(ABORT, 'flight_recorder_events is append-only: UPDATE refused');
END;

-- trigger flight_recorder_events_refuse_replace
CREATE TRIGGER flight_recorder_events_refuse_replace
BEFORE INSERT ON flight_recorder_events
WHEN EXISTS (SELECT 1 FROM flight_recorder_events AS taken WHERE taken.event_id = NEW.event_id)
BEGIN
  SELECT RAISE(ABORT, 'flight_recorder_events is append-only: event_id already taken, INSERT OR REPLACE refused');
END;

-- trigger flight_recorder_events_domain_values_insert
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

-- trigger flight_recorder_events_text_and_numbers_insert
CREATE TRIGGER flight_recorder_events_text_and_numbers_insert BEFORE INSERT ON flight_recorder_events
WHEN
     (instr(NEW.event_id, char(0)) > 0)
  OR (instr(NEW.trace_id, char(0)) > 0)
  OR (instr(NEW.job_id, char(0)) > 0)
  OR (instr(NEW.workflow_run_id, char(0)) > 0)
  OR (instr(NEW.body, char(0)) > 0)
  OR (instr(NEW.body, '\u') > 0)
  OR ((json_valid(NEW.body) AND EXISTS (SELECT 1 FROM json_tree(NEW.body) AS n WHERE n.type IN ('integer', 'real')
      AND (abs(n.atom) >= 9e999 OR (abs(n.atom) = 1.7976931348623157e308
        AND rtrim(ltrim(replace(iif(instr(lower(NEW.body -> n.fullkey), 'e') > 0, substr(NEW.body -> n.fullkey, 1, instr(lower(NEW.body -> n.fullkey), 'e') - 1), NEW.body -> n.fullkey), '.', ''), '-0'), '0')
        >= '179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792')))))
BEGIN
  SELECT RAISE(ABORT, 'CHECK constraint failed: flight_recorder_events_event_id_uuid (not a lower-case UUID other than the nil UUID: it holds U+0000)') WHERE instr(NEW.event_id, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: flight_recorder_events_trace_id_uuid (not a lower-case UUID other than the nil UUID: it holds U+0000)') WHERE instr(NEW.trace_id, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: flight_recorder_events_job_id_uuid (not a lower-case UUID other than the nil UUID: it holds U+0000)') WHERE instr(NEW.job_id, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: flight_recorder_events_workflow_run_id_uuid (not a lower-case UUID other than the nil UUID: it holds U+0000)') WHERE instr(NEW.workflow_run_id, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: flight_recorder_events_body_object (U+0000 in or after the JSON text)') WHERE instr(NEW.body, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: flight_recorder_events_body_object (JSON text whose string or key decodes to U+0000 or a lone UTF-16 surrogate)') WHERE (instr(NEW.body, '\u') > 0 AND json_valid(NEW.body) AND EXISTS (SELECT 1 FROM json_tree(NEW.body) AS s
      WHERE instr(coalesce(s.atom, '') || char(1) || coalesce(s.key, ''), char(0)) > 0 OR (instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'ED') > 0 AND (instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDA0') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDA1') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDA2') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDA3') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDA4') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDA5') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDA6') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDA7') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDA8') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDA9') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDAA') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDAB') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDAC') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDAD') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDAE') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDAF') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDB0') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDB1') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDB2') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDB3') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDB4') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDB5') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDB6') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDB7') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDB8') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDB9') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDBA') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDBB') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDBC') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDBD') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDBE') > 0 OR instr(CAST(coalesce(s.atom, '') || char(1) || coalesce(s.key, '') AS BLOB), X'EDBF') > 0))));
  SELECT RAISE(ABORT, 'CHECK constraint failed: flight_recorder_events_body_object (a JSON number past a double, read as Infinity)') WHERE (json_valid(NEW.body) AND EXISTS (SELECT 1 FROM json_tree(NEW.body) AS n WHERE n.type IN ('integer', 'real')
      AND (abs(n.atom) >= 9e999 OR (abs(n.atom) = 1.7976931348623157e308
        AND rtrim(ltrim(replace(iif(instr(lower(NEW.body -> n.fullkey), 'e') > 0, substr(NEW.body -> n.fullkey, 1, instr(lower(NEW.body -> n.fullkey), 'e') - 1), NEW.body -> n.fullkey), '.', ''), '-0'), '0')
        >= '179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792'))));
END;
