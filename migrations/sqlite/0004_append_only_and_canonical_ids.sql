-- 0004: the Flight Recorder's log is append-only on SQLite as it is on
-- PostgreSQL (issue 11.8), and ids are stored in their one canonical,
-- lower-case form (issue 11.6).
--
-- Every statement is replay-safe: with the migrations table lost, running
-- this file again leaves the same schema and the same rows.

-- 1. INSERT OR REPLACE / REPLACE INTO with a taken event_id.
-- SQLite's REPLACE deletes the conflicting row without firing DELETE
-- triggers (unless recursive_triggers is on), so 0003's delete guard never
-- saw it and the event was silently overwritten. Refuse any insert whose
-- event_id is taken, before conflict resolution runs. (A plain duplicate
-- INSERT now fails here instead of on the primary key; the store reports
-- both as AlreadyExists.)
DROP TRIGGER IF EXISTS flight_recorder_events_refuse_replace;
CREATE TRIGGER flight_recorder_events_refuse_replace
BEFORE INSERT ON flight_recorder_events
WHEN EXISTS (SELECT 1 FROM flight_recorder_events AS taken WHERE taken.event_id = NEW.event_id)
BEGIN
  SELECT RAISE(ABORT, 'flight_recorder_events is append-only: event_id already taken, INSERT OR REPLACE refused');
END;

-- 2. A retention grant that outlives its transaction.
-- PostgreSQL refuses to COMMIT while a grant exists (a deferred constraint
-- trigger). SQLite has no deferred triggers, but it has deferred foreign
-- keys: each grant points at a row of a table that can never hold one, so
-- while the grant exists the transaction cannot commit. The purge removes
-- its grant before COMMIT, as it always has; raw SQL that forgets to gets a
-- failing COMMIT instead of a lasting licence to DELETE events.
CREATE TABLE IF NOT EXISTS flight_recorder_grant_anchor (
  id INTEGER PRIMARY KEY
);

DROP TRIGGER IF EXISTS flight_recorder_grant_anchor_stays_empty;
CREATE TRIGGER flight_recorder_grant_anchor_stays_empty
BEFORE INSERT ON flight_recorder_grant_anchor
BEGIN
  SELECT RAISE(ABORT, 'flight_recorder_grant_anchor must stay empty: it is what keeps retention grants from being committed');
END;

-- Grants never outlive a transaction, so the only rows this drops are ones
-- that should not exist: a grant committed before this migration.
DROP TABLE IF EXISTS flight_recorder_retention_grants;
CREATE TABLE flight_recorder_retention_grants (
  grant_id INTEGER PRIMARY KEY,
  cutoff TEXT NOT NULL CONSTRAINT flight_recorder_retention_grants_cutoff_form CHECK (
    length(cutoff) = 24
    AND cutoff GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z'
    AND substr(cutoff, 12, 2) < '24'
    AND strftime('%Y-%m-%dT%H:%M:%fZ', cutoff) IS cutoff
  ),
  -- Always 0, never in the anchor table: the deferred check fails at COMMIT while the grant exists.
  uncommittable INTEGER NOT NULL DEFAULT 0
    REFERENCES flight_recorder_grant_anchor (id) DEFERRABLE INITIALLY DEFERRED
);

-- The anchor works only where foreign keys are enforced; a connection with
-- them off (the sqlite3 shell's default) may not take a grant at all.
DROP TRIGGER IF EXISTS flight_recorder_retention_grants_need_foreign_keys;
CREATE TRIGGER flight_recorder_retention_grants_need_foreign_keys
BEFORE INSERT ON flight_recorder_retention_grants
WHEN (SELECT foreign_keys FROM pragma_foreign_keys) IS NOT 1
BEGIN
  SELECT RAISE(ABORT, 'a retention grant needs PRAGMA foreign_keys = ON, which keeps it from being committed');
END;

DROP TRIGGER IF EXISTS flight_recorder_retention_grants_refuse_update;
CREATE TRIGGER flight_recorder_retention_grants_refuse_update
BEFORE UPDATE ON flight_recorder_retention_grants
BEGIN
  SELECT RAISE(ABORT, 'flight_recorder_retention_grants: a grant is never changed, only inserted and deleted in one transaction');
END;

-- 3. Ids in lower case. The domain now decodes every id to lower case, so an
-- upper-case id written by an earlier version would be unreachable; move it.
-- An id whose lower-case form is already taken (the duplicate an earlier
-- version let through) stays as it was rather than collide. A job's runs
-- follow it within the same statement (a temporary trigger), so no foreign
-- key is ever left dangling.
DROP TRIGGER IF EXISTS temp.ai_jobs_id_to_lower_case;
CREATE TEMP TRIGGER ai_jobs_id_to_lower_case
AFTER UPDATE OF id ON main.ai_jobs
BEGIN
  UPDATE workflow_runs SET job_id = NEW.id WHERE job_id = OLD.id;
END;

UPDATE ai_jobs SET id = lower(id)
WHERE id <> lower(id) AND NOT EXISTS (SELECT 1 FROM ai_jobs AS twin WHERE twin.id = lower(ai_jobs.id));

DROP TRIGGER IF EXISTS temp.ai_jobs_id_to_lower_case;

UPDATE ai_jobs SET trace_id = lower(trace_id) WHERE trace_id <> lower(trace_id);

-- Events: the indexed envelope columns only; each body stays exactly as
-- recorded (ids in it decode to lower case when read). The update guard is
-- lifted for this one statement and put back as 0003 made it.
DROP TRIGGER IF EXISTS flight_recorder_events_refuse_update;

UPDATE flight_recorder_events
SET event_id = lower(event_id), trace_id = lower(trace_id),
    job_id = lower(job_id), workflow_run_id = lower(workflow_run_id)
WHERE (event_id <> lower(event_id) OR trace_id <> lower(trace_id)
       OR job_id <> lower(job_id) OR workflow_run_id <> lower(workflow_run_id))
  AND NOT EXISTS (
    SELECT 1 FROM flight_recorder_events AS twin
    WHERE twin.event_id = lower(flight_recorder_events.event_id)
      AND twin.event_id <> flight_recorder_events.event_id
  );

CREATE TRIGGER flight_recorder_events_refuse_update
BEFORE UPDATE ON flight_recorder_events
BEGIN
  SELECT RAISE(ABORT, 'flight_recorder_events is append-only: UPDATE refused');
END;
