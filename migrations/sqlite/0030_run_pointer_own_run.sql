-- 0030 (SQLite): a job's workflow_run_id names one of its own runs, as
-- PostgreSQL's 0030 holds too. 0002's foreign key checks only that the run
-- exists: `JobStore.transition({ workflow_run_id })` (the port) or raw SQL
-- could point job A at job B's run, after which A's move to an end settled
-- B's run (heartbeats then refused as RunNotActive) and A's events carried B's
-- run id. The legacy upgrade clears such pointers before 0002
-- (internal/legacyReferences.ts); the live database now refuses them, naming
-- ai_jobs_workflow_run_of_job, the job, the run and the run's job in
-- PostgreSQL's words, which the store reports as every refused constraint (a
-- StorageError keeping the driver's error). A database holding one already
-- (made through the port by an earlier version) is refused here, naming the
-- job, for the operator to point it at its own run or clear it; nothing
-- changed.
--
-- Triggers, not a foreign key (workflow_run_id, id) -> workflow_runs (id,
-- job_id): SQLite adds one only by rebuilding ai_jobs, it needs a second
-- unique index on the runs (one more entry a run insert), and its ON DELETE
-- SET NULL would clear the job's id too. Each WHEN holds the whole test (the
-- message's reads run only in the body, on a refusal): a claim (the one hot
-- write that sets the pointer) pays one primary-key probe of the run it has
-- just inserted; every other write, none. A run that is not
-- there is left to the foreign key. Measured (bench/compareSteps.ts, 4 x 300
-- lifecycles against the tree before it, interleaved): no step slower, the
-- claim's CPU 0.97x, within the loaded machine's noise.
--
-- Replay-safe: each trigger and view dropped if it exists, then created.

-- A database holding such a pointer already is refused, naming the first (a
-- temporary view's trigger raises the message; rolled back with the migration).
DROP VIEW IF EXISTS temp.ai_job_model_foreign_run_pointers;
CREATE TEMP VIEW ai_job_model_foreign_run_pointers AS SELECT NULL AS message;
CREATE TEMP TRIGGER ai_job_model_foreign_run_pointers_refused INSTEAD OF INSERT ON ai_job_model_foreign_run_pointers
BEGIN
  SELECT RAISE(ABORT, NEW.message);
END;
INSERT INTO ai_job_model_foreign_run_pointers (message)
  SELECT 'ai_jobs row "' || j.id || '", column workflow_run_id: names workflow run "' || r.id || '", which is job "' || r.job_id ||
    '"''s run, not this job''s. Point the job at one of its own runs, or set its workflow_run_id to NULL, then migrate again. Nothing was changed.'
  FROM ai_jobs AS j JOIN workflow_runs AS r ON r.id = j.workflow_run_id
  WHERE r.job_id IS NOT j.id ORDER BY j.id LIMIT 1;
DROP VIEW temp.ai_job_model_foreign_run_pointers;

DROP TRIGGER IF EXISTS ai_jobs_workflow_run_of_job_insert;
CREATE TRIGGER ai_jobs_workflow_run_of_job_insert BEFORE INSERT ON ai_jobs
WHEN NEW.workflow_run_id IS NOT NULL
  AND EXISTS (SELECT 1 FROM workflow_runs WHERE id = NEW.workflow_run_id AND job_id IS NOT NEW.id)
BEGIN
  SELECT RAISE(ABORT, 'ai_jobs_workflow_run_of_job: job "' || NEW.id || '"''s workflow_run_id names workflow run "' || NEW.workflow_run_id ||
    '", which is job "' || (SELECT job_id FROM workflow_runs WHERE id = NEW.workflow_run_id) || '"''s run, not its own');
END;

DROP TRIGGER IF EXISTS ai_jobs_workflow_run_of_job_update;
CREATE TRIGGER ai_jobs_workflow_run_of_job_update BEFORE UPDATE OF workflow_run_id, id ON ai_jobs
WHEN NEW.workflow_run_id IS NOT NULL
  AND (NEW.workflow_run_id IS NOT OLD.workflow_run_id OR NEW.id IS NOT OLD.id)
  AND EXISTS (SELECT 1 FROM workflow_runs WHERE id = NEW.workflow_run_id AND job_id IS NOT NEW.id)
BEGIN
  SELECT RAISE(ABORT, 'ai_jobs_workflow_run_of_job: job "' || NEW.id || '"''s workflow_run_id names workflow run "' || NEW.workflow_run_id ||
    '", which is job "' || (SELECT job_id FROM workflow_runs WHERE id = NEW.workflow_run_id) || '"''s run, not its own');
END;

-- The other side: a run given to another job while a job points at it. The
-- store never changes a run's job_id; this fires only for raw SQL.
DROP TRIGGER IF EXISTS workflow_runs_job_of_pointer;
CREATE TRIGGER workflow_runs_job_of_pointer BEFORE UPDATE OF job_id ON workflow_runs
WHEN NEW.job_id IS NOT OLD.job_id
  AND EXISTS (SELECT 1 FROM ai_jobs WHERE workflow_run_id = NEW.id AND id IS NOT NEW.job_id)
BEGIN
  SELECT RAISE(ABORT, 'ai_jobs_workflow_run_of_job: job "' ||
    (SELECT id FROM ai_jobs WHERE workflow_run_id = NEW.id AND id IS NOT NEW.job_id LIMIT 1) ||
    '"''s workflow_run_id names workflow run "' || NEW.id || '", which would be job "' || NEW.job_id || '"''s run, not its own');
END;
