-- 0031 (SQLite): how far retention has purged the Flight Recorder (FR-EVT-004,
-- spec §11.5: "If evidence is missing due to retention, the UI MUST show that
-- evidence is missing"). A job whose events the purge removed showed an empty
-- trail, as if nothing had happened. One row at most: the newest cutoff of a
-- purge batch that deleted events, and when (the database's clock). The
-- purge writes it in its batch's transaction (src/store/sqlite/events.ts); a
-- job's views say its evidence may be missing when it started before that
-- cutoff. A database that never purged (or purged only before this
-- migration) has no row. PostgreSQL's twin is its 0031.
--
-- Replay-safe: CREATE TABLE IF NOT EXISTS.

CREATE TABLE IF NOT EXISTS flight_recorder_retention_horizon (
  horizon_id INTEGER PRIMARY KEY CONSTRAINT flight_recorder_retention_horizon_one_row CHECK (horizon_id = 1),
  -- Both in the events' one stored form (0004's grant cutoff), so they compare as instants.
  cutoff TEXT NOT NULL CONSTRAINT flight_recorder_retention_horizon_cutoff_form CHECK (
    length(cutoff) = 24 AND strftime('%Y-%m-%dT%H:%M:%fZ', cutoff) IS cutoff
  ),
  purged_at TEXT NOT NULL CONSTRAINT flight_recorder_retention_horizon_purged_at_form CHECK (
    length(purged_at) = 24 AND strftime('%Y-%m-%dT%H:%M:%fZ', purged_at) IS purged_at
  )
);
