-- 0022 (SQLite): a job's planned operations are ones the domain reads, as
-- PostgreSQL's 0022 says.
--
-- The CHECK ai_jobs_planned_operations_array looks only at the outer array,
-- so raw SQL could store `[1]`, `[{}]`, an unknown op_type or a target that
-- is no entity ref, and the store then read the row as CorruptRow — the same
-- gap 0020 closed for entity_refs (the outside probe found it there). An
-- element must be what the domain's PlannedOperation is: an object of an
-- op_type (read, write, plan, execute), a target that is an entity ref
-- ({entity_id, entity_kind}, two non-empty strings, nothing else) and
-- optionally a description that is text or null, and no other key. A key
-- given twice makes the count of keys too high (SQLite's JSON functions read
-- the first of two equal keys, JSON.parse the last). And, as 0021 for
-- entity refs, no string in it may decode to U+0000 or a lone UTF-16
-- surrogate (PostgreSQL's jsonb refuses both on input); that walk runs only
-- on a value holding a `\u` escape.
-- The library never writes any of these (its values pass the domain's
-- schema first): this refuses only raw SQL, naming the constraint the value
-- breaks, so the store reports it as every failed CHECK (a StorageError
-- keeping the driver's error).
--
-- Triggers, not a rebuilt CHECK (0013): BEFORE INSERT, walking only a value
-- that is not '[]' (what a job without planned operations holds), and BEFORE
-- UPDATE OF planned_operations judging only a changed value, so a row stored
-- before this migration still opens and still moves.
--
-- Replay-safe: each trigger dropped if it exists, then created.

DROP TRIGGER IF EXISTS ai_jobs_planned_operations_insert;
CREATE TRIGGER ai_jobs_planned_operations_insert BEFORE INSERT ON ai_jobs
WHEN NEW.planned_operations <> '[]' AND json_valid(NEW.planned_operations) AND (
    EXISTS (
      SELECT 1 FROM json_each(NEW.planned_operations) AS op
      WHERE op.type IS NOT 'object'
        OR json_type(op.value, '$.op_type') IS NOT 'text'
        OR json_extract(op.value, '$.op_type') NOT IN ('read', 'write', 'plan', 'execute')
        OR json_type(op.value, '$.target') IS NOT 'object'
        OR json_type(op.value, '$.target.entity_id') IS NOT 'text' OR json_extract(op.value, '$.target.entity_id') = ''
        OR json_type(op.value, '$.target.entity_kind') IS NOT 'text' OR json_extract(op.value, '$.target.entity_kind') = ''
        OR (SELECT count(*) FROM json_each(op.value, '$.target')) <> 2
        OR json_type(op.value, '$.description') NOT IN ('text', 'null')
        OR (SELECT count(*) FROM json_each(op.value)) <> 2 + (json_type(op.value, '$.description') IS NOT NULL))
    OR (instr(NEW.planned_operations, '\u') > 0 AND EXISTS (
      SELECT 1 FROM json_tree(NEW.planned_operations) AS t
      WHERE t.type = 'text' AND (
        instr(t.value, char(0)) > 0
        OR (instr(CAST(t.value AS BLOB), X'ED') > 0 AND (
          instr(CAST(t.value AS BLOB), X'EDA0') > 0 OR instr(CAST(t.value AS BLOB), X'EDA1') > 0 OR instr(CAST(t.value AS BLOB), X'EDA2') > 0 OR instr(CAST(t.value AS BLOB), X'EDA3') > 0 OR
          instr(CAST(t.value AS BLOB), X'EDA4') > 0 OR instr(CAST(t.value AS BLOB), X'EDA5') > 0 OR instr(CAST(t.value AS BLOB), X'EDA6') > 0 OR instr(CAST(t.value AS BLOB), X'EDA7') > 0 OR
          instr(CAST(t.value AS BLOB), X'EDA8') > 0 OR instr(CAST(t.value AS BLOB), X'EDA9') > 0 OR instr(CAST(t.value AS BLOB), X'EDAA') > 0 OR instr(CAST(t.value AS BLOB), X'EDAB') > 0 OR
          instr(CAST(t.value AS BLOB), X'EDAC') > 0 OR instr(CAST(t.value AS BLOB), X'EDAD') > 0 OR instr(CAST(t.value AS BLOB), X'EDAE') > 0 OR instr(CAST(t.value AS BLOB), X'EDAF') > 0 OR
          instr(CAST(t.value AS BLOB), X'EDB0') > 0 OR instr(CAST(t.value AS BLOB), X'EDB1') > 0 OR instr(CAST(t.value AS BLOB), X'EDB2') > 0 OR instr(CAST(t.value AS BLOB), X'EDB3') > 0 OR
          instr(CAST(t.value AS BLOB), X'EDB4') > 0 OR instr(CAST(t.value AS BLOB), X'EDB5') > 0 OR instr(CAST(t.value AS BLOB), X'EDB6') > 0 OR instr(CAST(t.value AS BLOB), X'EDB7') > 0 OR
          instr(CAST(t.value AS BLOB), X'EDB8') > 0 OR instr(CAST(t.value AS BLOB), X'EDB9') > 0 OR instr(CAST(t.value AS BLOB), X'EDBA') > 0 OR instr(CAST(t.value AS BLOB), X'EDBB') > 0 OR
          instr(CAST(t.value AS BLOB), X'EDBC') > 0 OR instr(CAST(t.value AS BLOB), X'EDBD') > 0 OR instr(CAST(t.value AS BLOB), X'EDBE') > 0 OR instr(CAST(t.value AS BLOB), X'EDBF') > 0))))))
BEGIN
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_planned_operations_array (an operation that is not an object of an op_type, an entity ref target and an optional text description)');
END;

DROP TRIGGER IF EXISTS ai_jobs_planned_operations_update;
CREATE TRIGGER ai_jobs_planned_operations_update BEFORE UPDATE OF planned_operations ON ai_jobs
WHEN NEW.planned_operations IS NOT OLD.planned_operations AND NEW.planned_operations <> '[]' AND json_valid(NEW.planned_operations) AND (
    EXISTS (
      SELECT 1 FROM json_each(NEW.planned_operations) AS op
      WHERE op.type IS NOT 'object'
        OR json_type(op.value, '$.op_type') IS NOT 'text'
        OR json_extract(op.value, '$.op_type') NOT IN ('read', 'write', 'plan', 'execute')
        OR json_type(op.value, '$.target') IS NOT 'object'
        OR json_type(op.value, '$.target.entity_id') IS NOT 'text' OR json_extract(op.value, '$.target.entity_id') = ''
        OR json_type(op.value, '$.target.entity_kind') IS NOT 'text' OR json_extract(op.value, '$.target.entity_kind') = ''
        OR (SELECT count(*) FROM json_each(op.value, '$.target')) <> 2
        OR json_type(op.value, '$.description') NOT IN ('text', 'null')
        OR (SELECT count(*) FROM json_each(op.value)) <> 2 + (json_type(op.value, '$.description') IS NOT NULL))
    OR (instr(NEW.planned_operations, '\u') > 0 AND EXISTS (
      SELECT 1 FROM json_tree(NEW.planned_operations) AS t
      WHERE t.type = 'text' AND (
        instr(t.value, char(0)) > 0
        OR (instr(CAST(t.value AS BLOB), X'ED') > 0 AND (
          instr(CAST(t.value AS BLOB), X'EDA0') > 0 OR instr(CAST(t.value AS BLOB), X'EDA1') > 0 OR instr(CAST(t.value AS BLOB), X'EDA2') > 0 OR instr(CAST(t.value AS BLOB), X'EDA3') > 0 OR
          instr(CAST(t.value AS BLOB), X'EDA4') > 0 OR instr(CAST(t.value AS BLOB), X'EDA5') > 0 OR instr(CAST(t.value AS BLOB), X'EDA6') > 0 OR instr(CAST(t.value AS BLOB), X'EDA7') > 0 OR
          instr(CAST(t.value AS BLOB), X'EDA8') > 0 OR instr(CAST(t.value AS BLOB), X'EDA9') > 0 OR instr(CAST(t.value AS BLOB), X'EDAA') > 0 OR instr(CAST(t.value AS BLOB), X'EDAB') > 0 OR
          instr(CAST(t.value AS BLOB), X'EDAC') > 0 OR instr(CAST(t.value AS BLOB), X'EDAD') > 0 OR instr(CAST(t.value AS BLOB), X'EDAE') > 0 OR instr(CAST(t.value AS BLOB), X'EDAF') > 0 OR
          instr(CAST(t.value AS BLOB), X'EDB0') > 0 OR instr(CAST(t.value AS BLOB), X'EDB1') > 0 OR instr(CAST(t.value AS BLOB), X'EDB2') > 0 OR instr(CAST(t.value AS BLOB), X'EDB3') > 0 OR
          instr(CAST(t.value AS BLOB), X'EDB4') > 0 OR instr(CAST(t.value AS BLOB), X'EDB5') > 0 OR instr(CAST(t.value AS BLOB), X'EDB6') > 0 OR instr(CAST(t.value AS BLOB), X'EDB7') > 0 OR
          instr(CAST(t.value AS BLOB), X'EDB8') > 0 OR instr(CAST(t.value AS BLOB), X'EDB9') > 0 OR instr(CAST(t.value AS BLOB), X'EDBA') > 0 OR instr(CAST(t.value AS BLOB), X'EDBB') > 0 OR
          instr(CAST(t.value AS BLOB), X'EDBC') > 0 OR instr(CAST(t.value AS BLOB), X'EDBD') > 0 OR instr(CAST(t.value AS BLOB), X'EDBE') > 0 OR instr(CAST(t.value AS BLOB), X'EDBF') > 0))))))
BEGIN
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_planned_operations_array (an operation that is not an object of an op_type, an entity ref target and an optional text description)');
END;
