-- 0030 (PostgreSQL): a job's workflow_run_id names one of its own runs, as
-- SQLite's 0030 holds too. 0002's foreign key checks only that the run
-- exists: `JobStore.transition({ workflow_run_id })` (the port) or raw SQL
-- could point job A at job B's run, after which A's move to an end settled
-- B's run (heartbeats then refused as RunNotActive) and A's events carried B's
-- run id. The legacy upgrade clears such pointers before 0002
-- (internal/legacyReferences.ts); the live database now refuses them, as a
-- foreign_key_violation naming ai_jobs_workflow_run_of_job, which the store
-- reports as every refused constraint (a StorageError keeping the SqlError).
-- A database holding one already (made through the port by an earlier
-- version) is refused here, naming the job, for the operator to point it at
-- its own run or clear it; nothing changed.
--
-- Triggers, not a foreign key (workflow_run_id, id) -> workflow_runs (id,
-- job_id): that needs a second unique index on the runs (one more entry a
-- run insert) and `ON DELETE SET NULL (workflow_run_id)`, PostgreSQL 15's.
-- AFTER triggers: a claim and a created-and-claimed job insert the run and
-- set the pointer in one statement (sibling CTEs); an AFTER trigger runs at
-- the statement's end, when the run is there to read, as the foreign key's
-- own check does. Their WHEN fires only on a pointer set to a run (a claim,
-- a resume); a run that is not there is left to the foreign key. Cost, by
-- EXPLAIN ANALYZE of 1,000 such UPDATEs on a loaded machine: the trigger 30
-- µs (median) a pointer set, beside 34 µs for the foreign key's own check in
-- the same statement; writes that set no pointer, nothing.
--
-- Replay-safe: CREATE OR REPLACE, DROP ... IF EXISTS before CREATE.

DO $$
DECLARE
  foreign_run record;
BEGIN
  SELECT j.id AS job_id, r.id AS run_id, r.job_id AS run_job_id INTO foreign_run
    FROM ai_jobs j JOIN workflow_runs r ON r.id = j.workflow_run_id
    WHERE r.job_id <> j.id ORDER BY j.id LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'ai_jobs row "%", column workflow_run_id: names workflow run "%", which is job "%"''s run, not this job''s',
      foreign_run.job_id, foreign_run.run_id, foreign_run.run_job_id
      USING HINT = 'Point the job at one of its own runs, or set its workflow_run_id to NULL, then migrate again. Nothing was changed.';
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION ai_jobs_workflow_run_of_job() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  owner uuid;
BEGIN
  SELECT job_id INTO owner FROM workflow_runs WHERE id = NEW.workflow_run_id;
  IF FOUND AND owner <> NEW.id THEN
    RAISE EXCEPTION 'ai_jobs_workflow_run_of_job: job "%"''s workflow_run_id names workflow run "%", which is job "%"''s run, not its own', NEW.id, NEW.workflow_run_id, owner
      USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'ai_jobs_workflow_run_of_job',
        SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME, COLUMN = 'workflow_run_id';
  END IF;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS ai_jobs_workflow_run_of_job_insert ON ai_jobs;
CREATE TRIGGER ai_jobs_workflow_run_of_job_insert
  AFTER INSERT ON ai_jobs
  FOR EACH ROW WHEN (NEW.workflow_run_id IS NOT NULL)
  EXECUTE FUNCTION ai_jobs_workflow_run_of_job();

DROP TRIGGER IF EXISTS ai_jobs_workflow_run_of_job_update ON ai_jobs;
CREATE TRIGGER ai_jobs_workflow_run_of_job_update
  AFTER UPDATE OF workflow_run_id, id ON ai_jobs
  FOR EACH ROW WHEN (NEW.workflow_run_id IS NOT NULL
    AND (NEW.workflow_run_id IS DISTINCT FROM OLD.workflow_run_id OR NEW.id IS DISTINCT FROM OLD.id))
  EXECUTE FUNCTION ai_jobs_workflow_run_of_job();

-- The other side: a run given to another job while a job points at it. The
-- store never changes a run's job_id; this fires only for raw SQL.
CREATE OR REPLACE FUNCTION workflow_runs_job_of_pointer() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  pointing uuid;
BEGIN
  SELECT id INTO pointing FROM ai_jobs WHERE workflow_run_id = NEW.id AND id IS DISTINCT FROM NEW.job_id LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'ai_jobs_workflow_run_of_job: job "%"''s workflow_run_id names workflow run "%", which would be job "%"''s run, not its own', pointing, NEW.id, NEW.job_id
      USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'ai_jobs_workflow_run_of_job',
        SCHEMA = TG_TABLE_SCHEMA, TABLE = 'ai_jobs', COLUMN = 'workflow_run_id';
  END IF;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS workflow_runs_job_of_pointer ON workflow_runs;
CREATE TRIGGER workflow_runs_job_of_pointer
  AFTER UPDATE OF job_id ON workflow_runs
  FOR EACH ROW WHEN (NEW.job_id IS DISTINCT FROM OLD.job_id)
  EXECUTE FUNCTION workflow_runs_job_of_pointer();
