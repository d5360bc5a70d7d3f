-- 0017: a run counts its node executions still running (R8, HSK-WF-001).
--
-- A move from outside the program (an operator's cancel, fail or complete of a
-- running job) is one statement that declines when the run has a node
-- running, and the caller then ends those nodes with the run. The statement
-- read the node rows under its snapshot, taken when it began: a node start
-- that committed while the statement waited for its job's lock was not seen,
-- the run ended, and that node stayed `running` under an ended run.
--
-- The count lives on the run's row, which the statement locks. PostgreSQL
-- re-reads a row that changed after the snapshot before locking it and checks
-- the statement's conditions again on that newest version (READ COMMITTED),
-- so `open_nodes = 0` sees every node start committed before the lock. The
-- count is kept by the database itself, from the node rows: +1 for a node
-- written `running`, -1 when it leaves `running`. Only a running run's count
-- moves (an ended run's nodes are history); it never goes below zero.
--
-- Replay-safe: ADD COLUMN IF NOT EXISTS, CREATE OR REPLACE, DROP ... IF EXISTS
-- before CREATE; the recount sets each running run's count from its rows.
ALTER TABLE workflow_runs ADD COLUMN IF NOT EXISTS open_nodes integer NOT NULL DEFAULT 0
  CONSTRAINT workflow_runs_open_nodes_valid CHECK (open_nodes >= 0);

CREATE OR REPLACE FUNCTION ai_job_model_count_open_nodes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  delta integer := CASE WHEN NEW.status = 'running' THEN 1 ELSE 0 END;
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.status = 'running' THEN
    delta := delta - 1;
  END IF;
  IF delta <> 0 THEN
    UPDATE workflow_runs SET open_nodes = open_nodes + delta
    WHERE id = NEW.workflow_run_id AND status = 'running';
  END IF;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS workflow_node_executions_count_open ON workflow_node_executions;
CREATE TRIGGER workflow_node_executions_count_open
  AFTER INSERT OR UPDATE OF status ON workflow_node_executions
  FOR EACH ROW EXECUTE FUNCTION ai_job_model_count_open_nodes();

UPDATE workflow_runs r SET open_nodes = (
  SELECT count(*) FROM workflow_node_executions n WHERE n.workflow_run_id = r.id AND n.status = 'running')
WHERE r.status = 'running';
