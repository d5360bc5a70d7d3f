-- 0031 (PostgreSQL): how far retention has purged the Flight Recorder
-- (FR-EVT-004, spec §11.5: "If evidence is missing due to retention, the UI
-- MUST show that evidence is missing"). A job whose events the purge removed
-- showed an empty trail, as if nothing had happened. One row at most: the
-- newest cutoff of a purge batch that deleted events, and when (the purge
-- transaction's start). The purge writes it in its batch's transaction
-- (src/store/pg/events.ts); a job's views say its evidence may be missing
-- when it started before that cutoff. A database that never purged (or purged
-- only before this migration) has no row. SQLite's twin is its 0031.
--
-- An upgraded database's roles keep working: `GRANT ... ON ALL TABLES` (the
-- README's least-privilege recipe) reached only the tables there then. So a
-- role that may read the events may read this row, and a role that may take
-- a retention grant (it runs retention) may write it.
--
-- Replay-safe: CREATE TABLE IF NOT EXISTS; a GRANT given twice changes nothing.

CREATE TABLE IF NOT EXISTS flight_recorder_retention_horizon (
  horizon_id smallint PRIMARY KEY CONSTRAINT flight_recorder_retention_horizon_one_row CHECK (horizon_id = 1),
  cutoff timestamptz NOT NULL,
  purged_at timestamptz NOT NULL
);

DO $$
DECLARE
  role_name name;
  privileges text;
BEGIN
  FOR role_name, privileges IN
    SELECT rolname, CASE WHEN has_table_privilege(oid, 'flight_recorder_retention_grants', 'INSERT') THEN 'SELECT, INSERT, UPDATE' ELSE 'SELECT' END
    FROM pg_roles
    WHERE NOT rolsuper AND rolname !~ '^pg_' AND rolname <> current_user
      AND (has_table_privilege(oid, 'flight_recorder_events', 'SELECT') OR has_table_privilege(oid, 'flight_recorder_retention_grants', 'INSERT'))
  LOOP
    EXECUTE format('GRANT %s ON flight_recorder_retention_horizon TO %I', privileges, role_name);
  END LOOP;
END
$$;
