-- 0027 (PostgreSQL): a claim for some kinds reads only their queues (issue
-- 16, stop 78; SQLite's twin is its 0027). 0007's index holds every queued
-- job in claim order, whatever its kind: a worker for `terminal_exec` behind
-- a million queued `doc_summarize` jobs stepped over all of them on every
-- claim and every idle poll (bench/claimOtherKinds.ts). This index holds the
-- same jobs in the same order within each kind; a claim for some kinds reads
-- each kind's first eligible entries and merges them in claim order
-- (src/store/pg/claim.ts `nextJob`). 0007's index stays: a claim for any kind
-- reads it, and no merge over every kind could.
--
-- Replay-safe: the CREATE is IF NOT EXISTS.

CREATE INDEX IF NOT EXISTS ai_jobs_kind_claim_idx ON ai_jobs (job_kind, priority DESC, run_after, created_at, id)
  WHERE status = 'queued';
