-- 0023 (SQLite): no stored text holds U+0000, and no JSON number is past a
-- double: what PostgreSQL refuses, and what the store could not read back.
--
-- Raw SQL this database took and the store then read as CorruptRow:
--   * U+0000 in TEXT. PostgreSQL refuses a NUL in any text (22021 as a bound
--     value, 54000 from chr(0)); the domain's text refuses it too. Here
--     length(), GLOB and the JSON functions stop at the first NUL, so
--     `<uuid>\0x` passed 0020's id test (its length() is 36), `{}\0junk`
--     passed json_valid in every JSON column, and free text (a job's reason,
--     error, protocol and profile ids, a run's error, a node's id, type and
--     error) had no test at all. Enumerated values and instants were already
--     refused (their CHECKs compare the whole value), and so are dangling
--     references.
--   * a JSON number past a double (`1e400`, `1E+309`, 310 digits): JSON.parse
--     reads it as ±Infinity, which no JSON value the domain holds is, in job
--     inputs and outputs, node payloads and event bodies (metrics refuse it
--     already, their CHECK bounding every counter; the backoff's keeps the
--     factor below 9e999, which SQLite's reading of the half-way point below
--     passes, so the backoff is judged here too). PostgreSQL's jsonb
--     keeps it as numeric; its 0023 refuses it alike. The bound is JSON.parse's:
--     a number rounds to Infinity from 2^1024 - 2^970 on (the half-way point
--     above the largest double, rounded to even: up). SQLite's own reading
--     gives Inf there too (abs(atom) >= 9e999) except at that point and just
--     above it, spelt with 19 digits or more, which it rounds down to the
--     largest double: a number read so has its text compared digit by digit
--     with the bound (a branch no other number takes).
-- The library never writes either (its text and JSON pass the domain's
-- schemas, which refuse U+0000, NaN and Infinity first): this refuses only
-- raw SQL, naming the constraint the value breaks — an id's `_uuid`, a JSON
-- column's own CHECK, `<table>_<column>_text` for free text — so the store
-- reports it as every failed CHECK (a StorageError keeping the driver's error).
--
-- Cost: one BEFORE INSERT and one BEFORE UPDATE OF trigger per table (the
-- events are never updated). Their WHEN is an instr per text column, and for
-- each JSON column that may hold a number a walk of its numbers (json_tree,
-- on the parse json_valid made and caches), and the body, naming the column,
-- runs only on a refused row. A textual pre-test (GLOB for an exponent of
-- three digits or a run of 210 digits, all a number past a double can be
-- spelt with) was measured slower than the walk it would spare. Measured
-- with 10,000 rows: +2.4 to 2.9 µs a job insert with 393 bytes of inputs
-- (+5 %), +2.4 to 2.8 µs a node insert with that payload; about 0.11 µs per JSON node of a
-- large value (21 KB, 300 objects: +166 µs an insert). Heartbeats write no
-- column judged here (+0); a claim writes the job's status_reason and
-- workflow_run_id, so the job's UPDATE trigger runs its WHEN (+0 to 0.4 µs,
-- within noise). The exact comparison is one flat expression: nested
-- sub-selects made every firing of the trigger dearer (+4.8 µs a claim).
--
-- Triggers judge an inserted row and, on UPDATE, only a column whose value
-- changes, as 0020's: a row stored before this migration with such a value
-- still opens and still moves (the claimer can fail a job it cannot read).
--
-- Replay-safe: each trigger dropped if it exists, then created.

DROP TRIGGER IF EXISTS ai_jobs_text_and_numbers_insert;
CREATE TRIGGER ai_jobs_text_and_numbers_insert BEFORE INSERT ON ai_jobs
WHEN
     (instr(NEW.id, char(0)) > 0)
  OR (instr(NEW.trace_id, char(0)) > 0)
  OR (instr(NEW.workflow_run_id, char(0)) > 0)
  OR (instr(NEW.status_reason, char(0)) > 0)
  OR (instr(NEW.error_message, char(0)) > 0)
  OR (instr(NEW.protocol_id, char(0)) > 0)
  OR (instr(NEW.profile_id, char(0)) > 0)
  OR (instr(NEW.capability_profile_id, char(0)) > 0)
  OR (instr(NEW.entity_refs, char(0)) > 0)
  OR (instr(NEW.planned_operations, char(0)) > 0)
  OR (instr(NEW.metrics, char(0)) > 0)
  OR (instr(NEW.job_inputs, char(0)) > 0)
  OR (instr(NEW.job_outputs, char(0)) > 0)
  OR (instr(NEW.backoff, char(0)) > 0)
  OR ((json_valid(NEW.job_inputs) AND EXISTS (SELECT 1 FROM json_tree(NEW.job_inputs) AS n WHERE n.type IN ('integer', 'real')
      AND (abs(n.atom) >= 9e999 OR (abs(n.atom) = 1.7976931348623157e308
        AND rtrim(ltrim(replace(iif(instr(lower(NEW.job_inputs -> n.fullkey), 'e') > 0, substr(NEW.job_inputs -> n.fullkey, 1, instr(lower(NEW.job_inputs -> n.fullkey), 'e') - 1), NEW.job_inputs -> n.fullkey), '.', ''), '-0'), '0')
        >= '179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792')))))
  OR ((json_valid(NEW.job_outputs) AND EXISTS (SELECT 1 FROM json_tree(NEW.job_outputs) AS n WHERE n.type IN ('integer', 'real')
      AND (abs(n.atom) >= 9e999 OR (abs(n.atom) = 1.7976931348623157e308
        AND rtrim(ltrim(replace(iif(instr(lower(NEW.job_outputs -> n.fullkey), 'e') > 0, substr(NEW.job_outputs -> n.fullkey, 1, instr(lower(NEW.job_outputs -> n.fullkey), 'e') - 1), NEW.job_outputs -> n.fullkey), '.', ''), '-0'), '0')
        >= '179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792')))))
  OR ((json_valid(NEW.backoff) AND EXISTS (SELECT 1 FROM json_tree(NEW.backoff) AS n WHERE n.type IN ('integer', 'real')
      AND (abs(n.atom) >= 9e999 OR (abs(n.atom) = 1.7976931348623157e308
        AND rtrim(ltrim(replace(iif(instr(lower(NEW.backoff -> n.fullkey), 'e') > 0, substr(NEW.backoff -> n.fullkey, 1, instr(lower(NEW.backoff -> n.fullkey), 'e') - 1), NEW.backoff -> n.fullkey), '.', ''), '-0'), '0')
        >= '179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792')))))
BEGIN
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_id_uuid (not a lower-case UUID other than the nil UUID: it holds U+0000)') WHERE instr(NEW.id, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_trace_id_uuid (not a lower-case UUID other than the nil UUID: it holds U+0000)') WHERE instr(NEW.trace_id, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_workflow_run_id_uuid (not a lower-case UUID other than the nil UUID: it holds U+0000)') WHERE instr(NEW.workflow_run_id, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_status_reason_text (text holding U+0000)') WHERE instr(NEW.status_reason, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_error_message_text (text holding U+0000)') WHERE instr(NEW.error_message, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_protocol_id_text (text holding U+0000)') WHERE instr(NEW.protocol_id, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_profile_id_text (text holding U+0000)') WHERE instr(NEW.profile_id, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_capability_profile_id_text (text holding U+0000)') WHERE instr(NEW.capability_profile_id, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_entity_refs_array (U+0000 in or after the JSON text)') WHERE instr(NEW.entity_refs, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_planned_operations_array (U+0000 in or after the JSON text)') WHERE instr(NEW.planned_operations, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_metrics_valid (U+0000 in or after the JSON text)') WHERE instr(NEW.metrics, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_job_inputs_json (U+0000 in or after the JSON text)') WHERE instr(NEW.job_inputs, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_job_outputs_json (U+0000 in or after the JSON text)') WHERE instr(NEW.job_outputs, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_backoff_valid (U+0000 in or after the JSON text)') WHERE instr(NEW.backoff, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_job_inputs_json (a JSON number past a double, read as Infinity)') WHERE (json_valid(NEW.job_inputs) AND EXISTS (SELECT 1 FROM json_tree(NEW.job_inputs) AS n WHERE n.type IN ('integer', 'real')
      AND (abs(n.atom) >= 9e999 OR (abs(n.atom) = 1.7976931348623157e308
        AND rtrim(ltrim(replace(iif(instr(lower(NEW.job_inputs -> n.fullkey), 'e') > 0, substr(NEW.job_inputs -> n.fullkey, 1, instr(lower(NEW.job_inputs -> n.fullkey), 'e') - 1), NEW.job_inputs -> n.fullkey), '.', ''), '-0'), '0')
        >= '179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792'))));
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_job_outputs_json (a JSON number past a double, read as Infinity)') WHERE (json_valid(NEW.job_outputs) AND EXISTS (SELECT 1 FROM json_tree(NEW.job_outputs) AS n WHERE n.type IN ('integer', 'real')
      AND (abs(n.atom) >= 9e999 OR (abs(n.atom) = 1.7976931348623157e308
        AND rtrim(ltrim(replace(iif(instr(lower(NEW.job_outputs -> n.fullkey), 'e') > 0, substr(NEW.job_outputs -> n.fullkey, 1, instr(lower(NEW.job_outputs -> n.fullkey), 'e') - 1), NEW.job_outputs -> n.fullkey), '.', ''), '-0'), '0')
        >= '179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792'))));
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_backoff_valid (a JSON number past a double, read as Infinity)') WHERE (json_valid(NEW.backoff) AND EXISTS (SELECT 1 FROM json_tree(NEW.backoff) AS n WHERE n.type IN ('integer', 'real')
      AND (abs(n.atom) >= 9e999 OR (abs(n.atom) = 1.7976931348623157e308
        AND rtrim(ltrim(replace(iif(instr(lower(NEW.backoff -> n.fullkey), 'e') > 0, substr(NEW.backoff -> n.fullkey, 1, instr(lower(NEW.backoff -> n.fullkey), 'e') - 1), NEW.backoff -> n.fullkey), '.', ''), '-0'), '0')
        >= '179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792'))));
END;

DROP TRIGGER IF EXISTS ai_jobs_text_and_numbers_update;
CREATE TRIGGER ai_jobs_text_and_numbers_update BEFORE UPDATE OF id, trace_id, workflow_run_id, status_reason, error_message, protocol_id, profile_id, capability_profile_id, entity_refs, planned_operations, metrics, job_inputs, job_outputs, backoff ON ai_jobs
WHEN
     (NEW.id IS NOT OLD.id AND instr(NEW.id, char(0)) > 0)
  OR (NEW.trace_id IS NOT OLD.trace_id AND instr(NEW.trace_id, char(0)) > 0)
  OR (NEW.workflow_run_id IS NOT OLD.workflow_run_id AND instr(NEW.workflow_run_id, char(0)) > 0)
  OR (NEW.status_reason IS NOT OLD.status_reason AND instr(NEW.status_reason, char(0)) > 0)
  OR (NEW.error_message IS NOT OLD.error_message AND instr(NEW.error_message, char(0)) > 0)
  OR (NEW.protocol_id IS NOT OLD.protocol_id AND instr(NEW.protocol_id, char(0)) > 0)
  OR (NEW.profile_id IS NOT OLD.profile_id AND instr(NEW.profile_id, char(0)) > 0)
  OR (NEW.capability_profile_id IS NOT OLD.capability_profile_id AND instr(NEW.capability_profile_id, char(0)) > 0)
  OR (NEW.entity_refs IS NOT OLD.entity_refs AND instr(NEW.entity_refs, char(0)) > 0)
  OR (NEW.planned_operations IS NOT OLD.planned_operations AND instr(NEW.planned_operations, char(0)) > 0)
  OR (NEW.metrics IS NOT OLD.metrics AND instr(NEW.metrics, char(0)) > 0)
  OR (NEW.job_inputs IS NOT OLD.job_inputs AND instr(NEW.job_inputs, char(0)) > 0)
  OR (NEW.job_outputs IS NOT OLD.job_outputs AND instr(NEW.job_outputs, char(0)) > 0)
  OR (NEW.backoff IS NOT OLD.backoff AND instr(NEW.backoff, char(0)) > 0)
  OR (NEW.job_inputs IS NOT OLD.job_inputs AND (json_valid(NEW.job_inputs) AND EXISTS (SELECT 1 FROM json_tree(NEW.job_inputs) AS n WHERE n.type IN ('integer', 'real')
      AND (abs(n.atom) >= 9e999 OR (abs(n.atom) = 1.7976931348623157e308
        AND rtrim(ltrim(replace(iif(instr(lower(NEW.job_inputs -> n.fullkey), 'e') > 0, substr(NEW.job_inputs -> n.fullkey, 1, instr(lower(NEW.job_inputs -> n.fullkey), 'e') - 1), NEW.job_inputs -> n.fullkey), '.', ''), '-0'), '0')
        >= '179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792')))))
  OR (NEW.job_outputs IS NOT OLD.job_outputs AND (json_valid(NEW.job_outputs) AND EXISTS (SELECT 1 FROM json_tree(NEW.job_outputs) AS n WHERE n.type IN ('integer', 'real')
      AND (abs(n.atom) >= 9e999 OR (abs(n.atom) = 1.7976931348623157e308
        AND rtrim(ltrim(replace(iif(instr(lower(NEW.job_outputs -> n.fullkey), 'e') > 0, substr(NEW.job_outputs -> n.fullkey, 1, instr(lower(NEW.job_outputs -> n.fullkey), 'e') - 1), NEW.job_outputs -> n.fullkey), '.', ''), '-0'), '0')
        >= '179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792')))))
  OR (NEW.backoff IS NOT OLD.backoff AND (json_valid(NEW.backoff) AND EXISTS (SELECT 1 FROM json_tree(NEW.backoff) AS n WHERE n.type IN ('integer', 'real')
      AND (abs(n.atom) >= 9e999 OR (abs(n.atom) = 1.7976931348623157e308
        AND rtrim(ltrim(replace(iif(instr(lower(NEW.backoff -> n.fullkey), 'e') > 0, substr(NEW.backoff -> n.fullkey, 1, instr(lower(NEW.backoff -> n.fullkey), 'e') - 1), NEW.backoff -> n.fullkey), '.', ''), '-0'), '0')
        >= '179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792')))))
BEGIN
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_id_uuid (not a lower-case UUID other than the nil UUID: it holds U+0000)') WHERE NEW.id IS NOT OLD.id AND instr(NEW.id, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_trace_id_uuid (not a lower-case UUID other than the nil UUID: it holds U+0000)') WHERE NEW.trace_id IS NOT OLD.trace_id AND instr(NEW.trace_id, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_workflow_run_id_uuid (not a lower-case UUID other than the nil UUID: it holds U+0000)') WHERE NEW.workflow_run_id IS NOT OLD.workflow_run_id AND instr(NEW.workflow_run_id, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_status_reason_text (text holding U+0000)') WHERE NEW.status_reason IS NOT OLD.status_reason AND instr(NEW.status_reason, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_error_message_text (text holding U+0000)') WHERE NEW.error_message IS NOT OLD.error_message AND instr(NEW.error_message, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_protocol_id_text (text holding U+0000)') WHERE NEW.protocol_id IS NOT OLD.protocol_id AND instr(NEW.protocol_id, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_profile_id_text (text holding U+0000)') WHERE NEW.profile_id IS NOT OLD.profile_id AND instr(NEW.profile_id, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_capability_profile_id_text (text holding U+0000)') WHERE NEW.capability_profile_id IS NOT OLD.capability_profile_id AND instr(NEW.capability_profile_id, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_entity_refs_array (U+0000 in or after the JSON text)') WHERE NEW.entity_refs IS NOT OLD.entity_refs AND instr(NEW.entity_refs, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_planned_operations_array (U+0000 in or after the JSON text)') WHERE NEW.planned_operations IS NOT OLD.planned_operations AND instr(NEW.planned_operations, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_metrics_valid (U+0000 in or after the JSON text)') WHERE NEW.metrics IS NOT OLD.metrics AND instr(NEW.metrics, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_job_inputs_json (U+0000 in or after the JSON text)') WHERE NEW.job_inputs IS NOT OLD.job_inputs AND instr(NEW.job_inputs, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_job_outputs_json (U+0000 in or after the JSON text)') WHERE NEW.job_outputs IS NOT OLD.job_outputs AND instr(NEW.job_outputs, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_backoff_valid (U+0000 in or after the JSON text)') WHERE NEW.backoff IS NOT OLD.backoff AND instr(NEW.backoff, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_job_inputs_json (a JSON number past a double, read as Infinity)') WHERE NEW.job_inputs IS NOT OLD.job_inputs AND (json_valid(NEW.job_inputs) AND EXISTS (SELECT 1 FROM json_tree(NEW.job_inputs) AS n WHERE n.type IN ('integer', 'real')
      AND (abs(n.atom) >= 9e999 OR (abs(n.atom) = 1.7976931348623157e308
        AND rtrim(ltrim(replace(iif(instr(lower(NEW.job_inputs -> n.fullkey), 'e') > 0, substr(NEW.job_inputs -> n.fullkey, 1, instr(lower(NEW.job_inputs -> n.fullkey), 'e') - 1), NEW.job_inputs -> n.fullkey), '.', ''), '-0'), '0')
        >= '179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792'))));
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_job_outputs_json (a JSON number past a double, read as Infinity)') WHERE NEW.job_outputs IS NOT OLD.job_outputs AND (json_valid(NEW.job_outputs) AND EXISTS (SELECT 1 FROM json_tree(NEW.job_outputs) AS n WHERE n.type IN ('integer', 'real')
      AND (abs(n.atom) >= 9e999 OR (abs(n.atom) = 1.7976931348623157e308
        AND rtrim(ltrim(replace(iif(instr(lower(NEW.job_outputs -> n.fullkey), 'e') > 0, substr(NEW.job_outputs -> n.fullkey, 1, instr(lower(NEW.job_outputs -> n.fullkey), 'e') - 1), NEW.job_outputs -> n.fullkey), '.', ''), '-0'), '0')
        >= '179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792'))));
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_backoff_valid (a JSON number past a double, read as Infinity)') WHERE NEW.backoff IS NOT OLD.backoff AND (json_valid(NEW.backoff) AND EXISTS (SELECT 1 FROM json_tree(NEW.backoff) AS n WHERE n.type IN ('integer', 'real')
      AND (abs(n.atom) >= 9e999 OR (abs(n.atom) = 1.7976931348623157e308
        AND rtrim(ltrim(replace(iif(instr(lower(NEW.backoff -> n.fullkey), 'e') > 0, substr(NEW.backoff -> n.fullkey, 1, instr(lower(NEW.backoff -> n.fullkey), 'e') - 1), NEW.backoff -> n.fullkey), '.', ''), '-0'), '0')
        >= '179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792'))));
END;

DROP TRIGGER IF EXISTS workflow_runs_text_and_numbers_insert;
CREATE TRIGGER workflow_runs_text_and_numbers_insert BEFORE INSERT ON workflow_runs
WHEN
     (instr(NEW.id, char(0)) > 0)
  OR (instr(NEW.job_id, char(0)) > 0)
  OR (instr(NEW.error_message, char(0)) > 0)
BEGIN
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_runs_id_uuid (not a lower-case UUID other than the nil UUID: it holds U+0000)') WHERE instr(NEW.id, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_runs_job_id_uuid (not a lower-case UUID other than the nil UUID: it holds U+0000)') WHERE instr(NEW.job_id, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_runs_error_message_text (text holding U+0000)') WHERE instr(NEW.error_message, char(0)) > 0;
END;

DROP TRIGGER IF EXISTS workflow_runs_text_and_numbers_update;
CREATE TRIGGER workflow_runs_text_and_numbers_update BEFORE UPDATE OF id, job_id, error_message ON workflow_runs
WHEN
     (NEW.id IS NOT OLD.id AND instr(NEW.id, char(0)) > 0)
  OR (NEW.job_id IS NOT OLD.job_id AND instr(NEW.job_id, char(0)) > 0)
  OR (NEW.error_message IS NOT OLD.error_message AND instr(NEW.error_message, char(0)) > 0)
BEGIN
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_runs_id_uuid (not a lower-case UUID other than the nil UUID: it holds U+0000)') WHERE NEW.id IS NOT OLD.id AND instr(NEW.id, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_runs_job_id_uuid (not a lower-case UUID other than the nil UUID: it holds U+0000)') WHERE NEW.job_id IS NOT OLD.job_id AND instr(NEW.job_id, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_runs_error_message_text (text holding U+0000)') WHERE NEW.error_message IS NOT OLD.error_message AND instr(NEW.error_message, char(0)) > 0;
END;

DROP TRIGGER IF EXISTS workflow_node_executions_text_and_numbers_insert;
CREATE TRIGGER workflow_node_executions_text_and_numbers_insert BEFORE INSERT ON workflow_node_executions
WHEN
     (instr(NEW.id, char(0)) > 0)
  OR (instr(NEW.workflow_run_id, char(0)) > 0)
  OR (instr(NEW.node_id, char(0)) > 0)
  OR (instr(NEW.node_type, char(0)) > 0)
  OR (instr(NEW.error_message, char(0)) > 0)
  OR (instr(NEW.input_payload, char(0)) > 0)
  OR (instr(NEW.output_payload, char(0)) > 0)
  OR ((json_valid(NEW.input_payload) AND EXISTS (SELECT 1 FROM json_tree(NEW.input_payload) AS n WHERE n.type IN ('integer', 'real')
      AND (abs(n.atom) >= 9e999 OR (abs(n.atom) = 1.7976931348623157e308
        AND rtrim(ltrim(replace(iif(instr(lower(NEW.input_payload -> n.fullkey), 'e') > 0, substr(NEW.input_payload -> n.fullkey, 1, instr(lower(NEW.input_payload -> n.fullkey), 'e') - 1), NEW.input_payload -> n.fullkey), '.', ''), '-0'), '0')
        >= '179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792')))))
  OR ((json_valid(NEW.output_payload) AND EXISTS (SELECT 1 FROM json_tree(NEW.output_payload) AS n WHERE n.type IN ('integer', 'real')
      AND (abs(n.atom) >= 9e999 OR (abs(n.atom) = 1.7976931348623157e308
        AND rtrim(ltrim(replace(iif(instr(lower(NEW.output_payload -> n.fullkey), 'e') > 0, substr(NEW.output_payload -> n.fullkey, 1, instr(lower(NEW.output_payload -> n.fullkey), 'e') - 1), NEW.output_payload -> n.fullkey), '.', ''), '-0'), '0')
        >= '179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792')))))
BEGIN
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_node_executions_id_uuid (not a lower-case UUID other than the nil UUID: it holds U+0000)') WHERE instr(NEW.id, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_node_executions_workflow_run_id_uuid (not a lower-case UUID other than the nil UUID: it holds U+0000)') WHERE instr(NEW.workflow_run_id, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_node_executions_node_id_text (text holding U+0000)') WHERE instr(NEW.node_id, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_node_executions_node_type_text (text holding U+0000)') WHERE instr(NEW.node_type, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_node_executions_error_message_text (text holding U+0000)') WHERE instr(NEW.error_message, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_node_executions_input_payload_json (U+0000 in or after the JSON text)') WHERE instr(NEW.input_payload, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_node_executions_output_payload_json (U+0000 in or after the JSON text)') WHERE instr(NEW.output_payload, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_node_executions_input_payload_json (a JSON number past a double, read as Infinity)') WHERE (json_valid(NEW.input_payload) AND EXISTS (SELECT 1 FROM json_tree(NEW.input_payload) AS n WHERE n.type IN ('integer', 'real')
      AND (abs(n.atom) >= 9e999 OR (abs(n.atom) = 1.7976931348623157e308
        AND rtrim(ltrim(replace(iif(instr(lower(NEW.input_payload -> n.fullkey), 'e') > 0, substr(NEW.input_payload -> n.fullkey, 1, instr(lower(NEW.input_payload -> n.fullkey), 'e') - 1), NEW.input_payload -> n.fullkey), '.', ''), '-0'), '0')
        >= '179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792'))));
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_node_executions_output_payload_json (a JSON number past a double, read as Infinity)') WHERE (json_valid(NEW.output_payload) AND EXISTS (SELECT 1 FROM json_tree(NEW.output_payload) AS n WHERE n.type IN ('integer', 'real')
      AND (abs(n.atom) >= 9e999 OR (abs(n.atom) = 1.7976931348623157e308
        AND rtrim(ltrim(replace(iif(instr(lower(NEW.output_payload -> n.fullkey), 'e') > 0, substr(NEW.output_payload -> n.fullkey, 1, instr(lower(NEW.output_payload -> n.fullkey), 'e') - 1), NEW.output_payload -> n.fullkey), '.', ''), '-0'), '0')
        >= '179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792'))));
END;

DROP TRIGGER IF EXISTS workflow_node_executions_text_and_numbers_update;
CREATE TRIGGER workflow_node_executions_text_and_numbers_update BEFORE UPDATE OF id, workflow_run_id, node_id, node_type, error_message, input_payload, output_payload ON workflow_node_executions
WHEN
     (NEW.id IS NOT OLD.id AND instr(NEW.id, char(0)) > 0)
  OR (NEW.workflow_run_id IS NOT OLD.workflow_run_id AND instr(NEW.workflow_run_id, char(0)) > 0)
  OR (NEW.node_id IS NOT OLD.node_id AND instr(NEW.node_id, char(0)) > 0)
  OR (NEW.node_type IS NOT OLD.node_type AND instr(NEW.node_type, char(0)) > 0)
  OR (NEW.error_message IS NOT OLD.error_message AND instr(NEW.error_message, char(0)) > 0)
  OR (NEW.input_payload IS NOT OLD.input_payload AND instr(NEW.input_payload, char(0)) > 0)
  OR (NEW.output_payload IS NOT OLD.output_payload AND instr(NEW.output_payload, char(0)) > 0)
  OR (NEW.input_payload IS NOT OLD.input_payload AND (json_valid(NEW.input_payload) AND EXISTS (SELECT 1 FROM json_tree(NEW.input_payload) AS n WHERE n.type IN ('integer', 'real')
      AND (abs(n.atom) >= 9e999 OR (abs(n.atom) = 1.7976931348623157e308
        AND rtrim(ltrim(replace(iif(instr(lower(NEW.input_payload -> n.fullkey), 'e') > 0, substr(NEW.input_payload -> n.fullkey, 1, instr(lower(NEW.input_payload -> n.fullkey), 'e') - 1), NEW.input_payload -> n.fullkey), '.', ''), '-0'), '0')
        >= '179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792')))))
  OR (NEW.output_payload IS NOT OLD.output_payload AND (json_valid(NEW.output_payload) AND EXISTS (SELECT 1 FROM json_tree(NEW.output_payload) AS n WHERE n.type IN ('integer', 'real')
      AND (abs(n.atom) >= 9e999 OR (abs(n.atom) = 1.7976931348623157e308
        AND rtrim(ltrim(replace(iif(instr(lower(NEW.output_payload -> n.fullkey), 'e') > 0, substr(NEW.output_payload -> n.fullkey, 1, instr(lower(NEW.output_payload -> n.fullkey), 'e') - 1), NEW.output_payload -> n.fullkey), '.', ''), '-0'), '0')
        >= '179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792')))))
BEGIN
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_node_executions_id_uuid (not a lower-case UUID other than the nil UUID: it holds U+0000)') WHERE NEW.id IS NOT OLD.id AND instr(NEW.id, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_node_executions_workflow_run_id_uuid (not a lower-case UUID other than the nil UUID: it holds U+0000)') WHERE NEW.workflow_run_id IS NOT OLD.workflow_run_id AND instr(NEW.workflow_run_id, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_node_executions_node_id_text (text holding U+0000)') WHERE NEW.node_id IS NOT OLD.node_id AND instr(NEW.node_id, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_node_executions_node_type_text (text holding U+0000)') WHERE NEW.node_type IS NOT OLD.node_type AND instr(NEW.node_type, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_node_executions_error_message_text (text holding U+0000)') WHERE NEW.error_message IS NOT OLD.error_message AND instr(NEW.error_message, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_node_executions_input_payload_json (U+0000 in or after the JSON text)') WHERE NEW.input_payload IS NOT OLD.input_payload AND instr(NEW.input_payload, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_node_executions_output_payload_json (U+0000 in or after the JSON text)') WHERE NEW.output_payload IS NOT OLD.output_payload AND instr(NEW.output_payload, char(0)) > 0;
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_node_executions_input_payload_json (a JSON number past a double, read as Infinity)') WHERE NEW.input_payload IS NOT OLD.input_payload AND (json_valid(NEW.input_payload) AND EXISTS (SELECT 1 FROM json_tree(NEW.input_payload) AS n WHERE n.type IN ('integer', 'real')
      AND (abs(n.atom) >= 9e999 OR (abs(n.atom) = 1.7976931348623157e308
        AND rtrim(ltrim(replace(iif(instr(lower(NEW.input_payload -> n.fullkey), 'e') > 0, substr(NEW.input_payload -> n.fullkey, 1, instr(lower(NEW.input_payload -> n.fullkey), 'e') - 1), NEW.input_payload -> n.fullkey), '.', ''), '-0'), '0')
        >= '179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792'))));
  SELECT RAISE(ABORT, 'CHECK constraint failed: workflow_node_executions_output_payload_json (a JSON number past a double, read as Infinity)') WHERE NEW.output_payload IS NOT OLD.output_payload AND (json_valid(NEW.output_payload) AND EXISTS (SELECT 1 FROM json_tree(NEW.output_payload) AS n WHERE n.type IN ('integer', 'real')
      AND (abs(n.atom) >= 9e999 OR (abs(n.atom) = 1.7976931348623157e308
        AND rtrim(ltrim(replace(iif(instr(lower(NEW.output_payload -> n.fullkey), 'e') > 0, substr(NEW.output_payload -> n.fullkey, 1, instr(lower(NEW.output_payload -> n.fullkey), 'e') - 1), NEW.output_payload -> n.fullkey), '.', ''), '-0'), '0')
        >= '179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792'))));
END;

DROP TRIGGER IF EXISTS flight_recorder_events_text_and_numbers_insert;
CREATE TRIGGER flight_recorder_events_text_and_numbers_insert BEFORE INSERT ON flight_recorder_events
WHEN
     (instr(NEW.event_id, char(0)) > 0)
  OR (instr(NEW.trace_id, char(0)) > 0)
  OR (instr(NEW.job_id, char(0)) > 0)
  OR (instr(NEW.workflow_run_id, char(0)) > 0)
  OR (instr(NEW.body, char(0)) > 0)
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
  SELECT RAISE(ABORT, 'CHECK constraint failed: flight_recorder_events_body_object (a JSON number past a double, read as Infinity)') WHERE (json_valid(NEW.body) AND EXISTS (SELECT 1 FROM json_tree(NEW.body) AS n WHERE n.type IN ('integer', 'real')
      AND (abs(n.atom) >= 9e999 OR (abs(n.atom) = 1.7976931348623157e308
        AND rtrim(ltrim(replace(iif(instr(lower(NEW.body -> n.fullkey), 'e') > 0, substr(NEW.body -> n.fullkey, 1, instr(lower(NEW.body -> n.fullkey), 'e') - 1), NEW.body -> n.fullkey), '.', ''), '-0'), '0')
        >= '179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792'))));
END;
