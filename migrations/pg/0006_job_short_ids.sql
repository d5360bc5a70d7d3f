-- Looking a job up by its short id (the last 8 hex digits that tables and
-- timelines print) is an index search, not a scan of every id. The store's
-- query spells this expression exactly, so the planner uses the index.
CREATE INDEX IF NOT EXISTS ai_jobs_short_id_idx ON ai_jobs (right(id::text, 8));
