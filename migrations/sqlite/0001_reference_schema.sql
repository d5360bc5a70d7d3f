-- The reference implementation's tables, in its legacy shape (SPEC R16a).
--
-- A legacy Handshake database already has them, so IF NOT EXISTS leaves its
-- rows alone; a fresh database gets them empty. Either way 0002 then upgrades
-- the same shape in place, so fresh and legacy databases take one path.
-- No constraints beyond the legacy ones: 0002 adds them after converting.

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
  job_id TEXT REFERENCES ai_jobs (id),
  status TEXT,
  last_heartbeat TEXT,
  created_at TEXT,
  updated_at TEXT
);

CREATE TABLE IF NOT EXISTS workflow_node_executions (
  id TEXT PRIMARY KEY,
  workflow_run_id TEXT REFERENCES workflow_runs (id),
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
