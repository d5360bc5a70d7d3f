-- 0029 (PostgreSQL): a node execution's node_id and node_type are never
-- empty, as SQLite's 0002 has held since it shipped
-- (workflow_node_executions_node_id_nonempty / _node_type_nonempty, the same
-- names, so both stores refuse the same write alike). The domain reads an
-- empty one as CorruptRow (NodeExecution's NonEmptyText); PostgreSQL's 0002
-- had no such CHECK, so a legacy node with an empty name upgraded there and
-- then failed `jobs show` of its job (found by an outside probe of the
-- reference's data). The legacy upgrade now refuses such a row before 0002
-- (src/store/internal/legacyRowRules.ts); a database an earlier version
-- upgraded may hold one already, and is refused here, naming it, for the
-- operator to fix (give the node its name), nothing changed.
--
-- Replay-safe: each constraint dropped if it exists, then added.

DO $$
DECLARE
  empty record;
BEGIN
  SELECT id, node_id = '' AS no_id INTO empty FROM workflow_node_executions
    WHERE node_id = '' OR node_type = '' ORDER BY id LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'workflow_node_executions row "%", column %: Expected a non empty string', empty.id,
      CASE WHEN empty.no_id THEN 'node_id' ELSE 'node_type' END
      USING HINT = 'The store cannot read a node execution without a name back: give it its name, then migrate again. Nothing was changed.';
  END IF;
END
$$;

ALTER TABLE workflow_node_executions
  DROP CONSTRAINT IF EXISTS workflow_node_executions_node_id_nonempty,
  DROP CONSTRAINT IF EXISTS workflow_node_executions_node_type_nonempty,
  ADD CONSTRAINT workflow_node_executions_node_id_nonempty CHECK (length(node_id) > 0),
  ADD CONSTRAINT workflow_node_executions_node_type_nonempty CHECK (length(node_type) > 0);
