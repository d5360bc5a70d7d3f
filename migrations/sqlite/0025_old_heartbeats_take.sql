-- 0025 (SQLite): a worker of a version before 0018 marks the runs it beats
-- taken. PostgreSQL's twin is its 0026 (the numbers differ by dialect).
--
-- `taken` (0018) is set by the statements of this version that begin running
-- a run, heartbeats among them. A worker of a version before 0018 (which does
-- not refuse a newer database) beats without setting it, so Jobs.run of its
-- job ran the program a second time. Now a change of last_heartbeat that
-- leaves taken 0 sets it, in the database; this version's own heartbeats set
-- it themselves, so the trigger's WHEN is false for them and its body never
-- runs. The one statement of this version that beats a run and leaves it
-- untaken (an offered run adopted for a caller of Jobs.claimNext) marks it
-- taken and then clears it (offers.ts).
--
-- Replay-safe: IF NOT EXISTS.

CREATE TRIGGER IF NOT EXISTS workflow_runs_beat_takes
AFTER UPDATE OF last_heartbeat ON workflow_runs
FOR EACH ROW WHEN NEW.taken = 0 AND NEW.last_heartbeat IS NOT OLD.last_heartbeat
BEGIN
  UPDATE workflow_runs SET taken = 1 WHERE id = NEW.id;
END;
