-- 0018: a run is run once (`Jobs.run`, a pool's adoption of an offered run).
--
-- `Jobs.run(job_id, program)` runs the job's current run. Nothing recorded
-- that someone was already running it: two calls for one job (a retried
-- request, two processes), or a call for a job a pool had adopted from an
-- offer (`resume(..., { handTo: "workers" })`), ran the program twice under
-- one run.
--
-- `taken` is set by whoever begins running the run, in the statement that
-- says so: `Jobs.run`'s take (guarded on it being false), a pool's adoption
-- of an offer (same guard), and every heartbeat (a runner's proof of life).
-- A run a pool claimed is taken at its first heartbeat: until then a caller
-- who runs a job it did not claim is not stopped (documented).
--
-- Running runs already beaten since they were created count as taken: their
-- worker announced itself. Ended runs are left false: nothing reads it there.
--
-- Replay-safe: ADD COLUMN IF NOT EXISTS; the UPDATE only sets what is false.
ALTER TABLE workflow_runs ADD COLUMN IF NOT EXISTS taken boolean NOT NULL DEFAULT false;

UPDATE workflow_runs SET taken = true
WHERE status = 'running' AND NOT taken AND last_heartbeat <> created_at;
