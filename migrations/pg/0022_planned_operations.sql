-- 0022 (PostgreSQL): a job's planned operations are ones the domain reads,
-- as SQLite's 0022 says.
--
-- The CHECK ai_jobs_planned_operations_check looks only at the outer array
-- (and still refuses a value that is no array), so raw SQL could store
-- `[1]`, `[{}]`, an unknown op_type or a target that is no entity ref, and
-- the store then read the row as CorruptRow — the gap 0020 closed for
-- entity_refs. An element must be what the domain's PlannedOperation is: an
-- object of an op_type (read, write, plan, execute), a target that is an
-- entity ref ({entity_id, entity_kind}, two non-empty strings, nothing else)
-- and optionally a description that is a string or null, and no other key.
-- (jsonb keeps the last of two equal keys, as the store's read does; it
-- refuses U+0000 and lone surrogates on input.) The library never writes any
-- of these: this refuses only raw SQL. A refusal is a check_violation
-- (23514) naming ai_jobs_planned_operations_valid, its table and column, as
-- 0020's are, so the store reports it as every failed CHECK (a StorageError
-- keeping the SqlError).
--
-- Triggers, not CHECK ... NOT VALID, for 0020's reason: a CHECK judges every
-- row version an UPDATE writes, so a job stored before this migration with
-- such operations could no longer be moved at all (the claimer could not
-- fail it). These judge an inserted row, and on UPDATE only a changed value;
-- the WHEN holds the whole test (no PL/pgSQL call unless the row is refused,
-- 0014), and a job without planned operations ('[]') is judged by one
-- comparison.
--
-- Replay-safe: CREATE OR REPLACE, DROP ... IF EXISTS before CREATE.

CREATE OR REPLACE FUNCTION ai_jobs_planned_operations_refused() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- Runs only on a row its trigger's WHEN found refused.
  RAISE EXCEPTION 'new row for relation "%" violates check constraint "ai_jobs_planned_operations_valid"', TG_TABLE_NAME
    USING ERRCODE = 'check_violation', CONSTRAINT = 'ai_jobs_planned_operations_valid',
      SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME, COLUMN = 'planned_operations',
      DETAIL = format('Failing row has id %s.', NEW.id);
END
$$;

DROP TRIGGER IF EXISTS ai_jobs_planned_operations_insert ON ai_jobs;
CREATE TRIGGER ai_jobs_planned_operations_insert
  BEFORE INSERT ON ai_jobs
  FOR EACH ROW WHEN (
    NEW.planned_operations <> '[]'::jsonb AND jsonb_typeof(NEW.planned_operations) = 'array'
      AND (jsonb_path_exists(NEW.planned_operations, 'strict $[*] ? (@.type() != "object")')
        OR jsonb_path_exists(NEW.planned_operations, 'lax $[*] ? (
          !(@.op_type.type() == "string")
          || !(@.op_type == "read" || @.op_type == "write" || @.op_type == "plan" || @.op_type == "execute")
          || !(@.target.type() == "object")
          || !(@.target.entity_id.type() == "string") || @.target.entity_id == ""
          || !(@.target.entity_kind.type() == "string") || @.target.entity_kind == ""
          || exists (@.target.keyvalue() ? (@.key != "entity_id" && @.key != "entity_kind"))
          || (exists (@.description) && !(@.description.type() == "string" || @.description.type() == "null"))
          || exists (@.keyvalue() ? (@.key != "op_type" && @.key != "target" && @.key != "description")))'))
  )
  EXECUTE FUNCTION ai_jobs_planned_operations_refused();

DROP TRIGGER IF EXISTS ai_jobs_planned_operations_update ON ai_jobs;
CREATE TRIGGER ai_jobs_planned_operations_update
  BEFORE UPDATE OF planned_operations ON ai_jobs
  FOR EACH ROW WHEN (
    NEW.planned_operations IS DISTINCT FROM OLD.planned_operations AND NEW.planned_operations <> '[]'::jsonb AND jsonb_typeof(NEW.planned_operations) = 'array'
      AND (jsonb_path_exists(NEW.planned_operations, 'strict $[*] ? (@.type() != "object")')
        OR jsonb_path_exists(NEW.planned_operations, 'lax $[*] ? (
          !(@.op_type.type() == "string")
          || !(@.op_type == "read" || @.op_type == "write" || @.op_type == "plan" || @.op_type == "execute")
          || !(@.target.type() == "object")
          || !(@.target.entity_id.type() == "string") || @.target.entity_id == ""
          || !(@.target.entity_kind.type() == "string") || @.target.entity_kind == ""
          || exists (@.target.keyvalue() ? (@.key != "entity_id" && @.key != "entity_kind"))
          || (exists (@.description) && !(@.description.type() == "string" || @.description.type() == "null"))
          || exists (@.keyvalue() ? (@.key != "op_type" && @.key != "target" && @.key != "description")))'))
  )
  EXECUTE FUNCTION ai_jobs_planned_operations_refused();
