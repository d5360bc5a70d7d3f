-- 0018: a run is run once (`Jobs.run`, a pool's adoption of an offered run).
-- PostgreSQL's twin has the same number and says why.
--
--   taken   0 until someone begins running the run: `Jobs.run`'s take and a
--           pool's adoption of an offer set it (each only while it is 0),
--           and so does every heartbeat. 1 after.
--
-- Running runs already beaten since they were created count as taken.
--
-- Replay-safe: ADD COLUMN has no IF NOT EXISTS in SQLite, so the file is
-- skipped once the column exists (see src/store/internal/migrationGuard.ts).
-- skip-if: SELECT 1 FROM pragma_table_info('workflow_runs') WHERE name = 'taken'

ALTER TABLE workflow_runs ADD COLUMN taken INTEGER NOT NULL DEFAULT 0
  CONSTRAINT workflow_runs_taken_valid CHECK (taken IN (0, 1));

UPDATE workflow_runs SET taken = 1
WHERE status = 'running' AND taken = 0 AND last_heartbeat <> created_at;
