-- Recovery's scan (JobStore.stallStaleRuns, findStaleRuns) takes the stale running runs in
-- (last_heartbeat, id) order, a batch at a time. The index of migration 0002 stops at
-- last_heartbeat, so the order could not come from it: every batch joined and sorted every
-- stale run (measured at 10k stale among 100k: a sequential scan of ai_jobs and a sort of 10k
-- rows per batch of 500, ~60% of the batch). With id in the index the scan walks the oldest
-- heartbeats in order and stops at the batch size. It replaces the old index (its prefix).
CREATE INDEX IF NOT EXISTS workflow_runs_stale_scan_order_idx ON workflow_runs (status, last_heartbeat, id);
DROP INDEX IF EXISTS workflow_runs_stale_scan_idx;
