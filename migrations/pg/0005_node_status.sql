-- 0005: a node execution's status is any of the ten job states (issue 12.1).
--
-- The reference stores a node's status as its JobState (its security-violation
-- path marks running nodes `poisoned`; others write `completed_with_issues`,
-- `stalled`, ...). 0002 now creates the constraint with the ten states; this
-- widens it in a database that ran the earlier 0002. Replay-safe: dropping
-- and adding the constraint again leaves the same schema.

ALTER TABLE workflow_node_executions
  DROP CONSTRAINT IF EXISTS workflow_node_executions_status_check,
  ADD CONSTRAINT workflow_node_executions_status_check CHECK (status IN (
    'queued', 'running', 'stalled', 'awaiting_validation', 'awaiting_user',
    'completed', 'completed_with_issues', 'failed', 'cancelled', 'poisoned'));
