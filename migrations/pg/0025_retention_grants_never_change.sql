-- 0025 (PostgreSQL): a retention grant is never changed, as SQLite's 0004
-- already has it. 0003's deferred check refuses a COMMIT while the grant it
-- was queued for still exists, found by its grant_id: an UPDATE that gave the
-- row another id (`SET grant_id = DEFAULT`) slipped past it, the grant was
-- committed, and from then on any plain DELETE of events passed. A grant is
-- only inserted and deleted (purgeEventsBatch); any UPDATE is now refused.
-- A grant found committed (one that got out that way) licenses deletes until
-- it is gone: it is removed. No committed grant is legitimate.
--
-- Replay-safe: CREATE OR REPLACE, DROP ... IF EXISTS before CREATE.

CREATE OR REPLACE FUNCTION flight_recorder_retention_grants_refuse_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'flight_recorder_retention_grants: a grant is never changed, only inserted and deleted in one transaction'
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'Events are removed only by retention (purgeEventsBatch).';
END
$$;

DROP TRIGGER IF EXISTS flight_recorder_retention_grants_refuse_update ON flight_recorder_retention_grants;
CREATE TRIGGER flight_recorder_retention_grants_refuse_update
  BEFORE UPDATE ON flight_recorder_retention_grants
  FOR EACH ROW EXECUTE FUNCTION flight_recorder_retention_grants_refuse_update();

DELETE FROM flight_recorder_retention_grants;
