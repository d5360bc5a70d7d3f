-- 0033 (PostgreSQL): the retention horizon (0031) keeps the window the purge
-- was asked to apply, and the cutoff it asked for (FR-EVT-004). 0031 kept only
-- the cutoff and the purge transaction's start, and the views gave the window
-- as the one minus the other: a purge run where the host's clock was ahead of
-- the database's had its cutoff capped at now() (0028), and the notice then
-- said "removed by the retention policy (0)"; a host behind it added the skew
-- to the window. Both columns are NULL in a row written before this migration
-- (the views then fall back to 0031's difference). SQLite's twin is its 0032.
--
--   window_ms         the caller's own now minus the cutoff it asked for, in
--                     milliseconds: the policy's window (src/store/pg/events.ts).
--   requested_cutoff  the cutoff asked for: later than `cutoff` when the
--                     database's clock capped it.
--
-- The grants 0031 gave on the table cover its new columns.
--
-- Replay-safe: ADD COLUMN IF NOT EXISTS.

ALTER TABLE flight_recorder_retention_horizon
  ADD COLUMN IF NOT EXISTS window_ms bigint CONSTRAINT flight_recorder_retention_horizon_window_ms_valid CHECK (window_ms >= 0),
  ADD COLUMN IF NOT EXISTS requested_cutoff timestamptz;
