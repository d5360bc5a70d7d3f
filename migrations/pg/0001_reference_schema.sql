-- 0001: the reference implementation's tables, in its legacy shape (SPEC.md R16a).
--
-- A database written by the reference already has them and this is a no-op;
-- a fresh database gets them empty. Either way 0002 then upgrades the same
-- shape in place, so fresh and legacy databases take one tested path.

CREATE TABLE IF NOT EXISTS ai_jobs (
  id TEXT PRIMARY KEY,
  trace_id TEXT,
  workflow_run_id TEXT,
  job_kind TEXT,
  status TEXT,
  status_reason TEXT,
  error_message TEXT,
  protocol_id TEXT,
  profile_id TEXT,
  capability_profile_id TEXT,
  access_mode TEXT,
  safety_mode TEXT,
  entity_refs TEXT,
  planned_operations TEXT,
  metrics TEXT,
  job_inputs TEXT,
  job_outputs TEXT,
  is_pinned INTEGER,
  created_at TEXT,
  updated_at TEXT
);

CREATE TABLE IF NOT EXISTS workflow_runs (
  id TEXT PRIMARY KEY,
  job_id TEXT,
  status TEXT,
  last_heartbeat TEXT,
  created_at TEXT,
  updated_at TEXT
);

CREATE TABLE IF NOT EXISTS workflow_node_executions (
  id TEXT PRIMARY KEY,
  workflow_run_id TEXT,
  node_id TEXT,
  node_type TEXT,
  status TEXT,
  sequence INTEGER,
  input_payload TEXT,
  output_payload TEXT,
  error_message TEXT,
  started_at TEXT,
  finished_at TEXT
);
