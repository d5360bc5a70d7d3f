-- 0019 (PostgreSQL): an event's timestamp is an instant the domain holds —
-- whole milliseconds, 1970 to 9999 — as SQLite's CHECK on the stored text
-- form already says (its 0003/0013).
--
-- The library writes only such instants. A raw INSERT could give one with
-- microseconds: the store reads it back truncated to the millisecond, and
-- listEvents' cursor (the last row's instant and id) then continued before
-- that row, so the same event came back on every page and the listing
-- (and the CLI, which pages past 1000) never ended. Now the database refuses
-- such a row, on both stores alike.
--
-- NOT VALID: rows already stored are not judged (the log is append-only, so
-- they are never rewritten and never updated; nothing of the audit trail is
-- changed or lost). Every new row is checked.
--
-- Replay-safe: dropped if it exists, then added.

ALTER TABLE flight_recorder_events DROP CONSTRAINT IF EXISTS flight_recorder_events_timestamp_valid;
ALTER TABLE flight_recorder_events ADD CONSTRAINT flight_recorder_events_timestamp_valid CHECK (
  "timestamp" >= '1970-01-01T00:00:00Z' AND "timestamp" < '10000-01-01T00:00:00Z'
  AND date_trunc('milliseconds', "timestamp" AT TIME ZONE 'UTC') = "timestamp" AT TIME ZONE 'UTC'
) NOT VALID;
