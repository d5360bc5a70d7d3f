-- 0028 (SQLite): a retention grant licenses nothing newer than the moment it
-- is taken (found by an outside attacker's probe; PostgreSQL's twin is its
-- 0028). 0004's append-only trigger lets a DELETE pass for any event older
-- than some grant's cutoff, and the cutoff was whatever the writer chose: in
-- one transaction, a grant at '9999-12-31T23:59:59.999Z', a DELETE of any
-- recent event and a DELETE of the grant committed. A purge never needs a
-- cutoff later than its own moment (the store's is clamped to it,
-- src/store/sqlite/events.ts), so any later one is refused here. This holds
-- only against writers that keep the file's triggers: anyone who can write
-- the file can drop a trigger.
--
-- Replay-safe: DROP ... IF EXISTS before CREATE.

-- Both texts are the same ISO form (0004's CHECK), so they compare as instants.
DROP TRIGGER IF EXISTS flight_recorder_retention_grants_not_in_future;
CREATE TRIGGER flight_recorder_retention_grants_not_in_future
BEFORE INSERT ON flight_recorder_retention_grants
WHEN NEW.cutoff > strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
BEGIN
  SELECT RAISE(ABORT, 'flight_recorder_retention_grants: a grant''s cutoff is later than now: a purge never deletes events newer than its own moment');
END;
