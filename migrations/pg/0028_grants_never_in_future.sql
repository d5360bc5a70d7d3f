-- 0028 (PostgreSQL): a retention grant licenses nothing newer than its own
-- transaction's start (found by an outside attacker's probe; SQLite's twin is
-- its 0028). 0003's trigger lets a DELETE pass for any event older than some
-- grant's cutoff, and the cutoff was whatever the writer chose: a role with
-- INSERT on the grants could, in one transaction, insert a grant at
-- 'infinity', delete any recent event (a `security_violation`, an operator's
-- `human` action) and delete the grant before COMMIT. A purge never needs a
-- cutoff later than its own moment (the store's is clamped to `now()`,
-- src/store/pg/events.ts), so any later one is refused here. What is left: a
-- role with INSERT on the grants can still purge events older than its
-- transaction's start, so only the role that runs retention gets it (README,
-- "So a worker role needs only").
--
-- Replay-safe: CREATE OR REPLACE, DROP ... IF EXISTS before CREATE.

CREATE OR REPLACE FUNCTION flight_recorder_retention_grants_not_in_future() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- now() is the transaction's start: stable for the whole purge.
  IF NEW.cutoff > now() THEN
    RAISE EXCEPTION 'flight_recorder_retention_grants: a grant''s cutoff (%) is later than its transaction''s start (%)', NEW.cutoff, now()
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'A purge never deletes events newer than its own moment (purgeEventsBatch).';
  END IF;
  RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS flight_recorder_retention_grants_not_in_future ON flight_recorder_retention_grants;
CREATE TRIGGER flight_recorder_retention_grants_not_in_future
  BEFORE INSERT ON flight_recorder_retention_grants
  FOR EACH ROW EXECUTE FUNCTION flight_recorder_retention_grants_not_in_future();
