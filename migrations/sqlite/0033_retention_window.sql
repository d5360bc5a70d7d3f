-- 0033 (SQLite): the retention horizon (0031) keeps the window the purge was
-- asked to apply, and the cutoff it asked for (FR-EVT-004). 0031 kept only the
-- cutoff and the database's time of the purge, and the views gave the window
-- as the one minus the other: a purge run where the host's clock was ahead of
-- the database's had its cutoff capped at the database's clock (0028), and
-- the notice then said "removed by the retention policy (0)"; a host behind
-- it added the skew to the window. Both columns are NULL in a row written
-- before this migration (the views then fall back to 0031's difference).
-- PostgreSQL's twin is its 0032.
--
--   window_ms         the caller's own now minus the cutoff it asked for, in
--                     milliseconds: the policy's window (src/store/sqlite/events.ts).
--   requested_cutoff  the cutoff asked for: later than `cutoff` when the
--                     database's clock capped it.
--
-- Replay-safe: ADD COLUMN has no IF NOT EXISTS in SQLite, so the file is
-- skipped once the column exists (see src/store/internal/migrationGuard.ts).
-- skip-if: SELECT 1 FROM pragma_table_info('flight_recorder_retention_horizon') WHERE name = 'window_ms'

ALTER TABLE flight_recorder_retention_horizon ADD COLUMN window_ms INTEGER
  CONSTRAINT flight_recorder_retention_horizon_window_ms_valid CHECK (window_ms IS NULL OR (typeof(window_ms) = 'integer' AND window_ms >= 0));

ALTER TABLE flight_recorder_retention_horizon ADD COLUMN requested_cutoff TEXT
  CONSTRAINT flight_recorder_retention_horizon_requested_cutoff_form CHECK (
    requested_cutoff IS NULL OR (length(requested_cutoff) = 24 AND strftime('%Y-%m-%dT%H:%M:%fZ', requested_cutoff) IS requested_cutoff)
  );
