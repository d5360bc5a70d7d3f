-- 0024 (PostgreSQL): the Flight Recorder takes `editor_edit` events
-- (FR-EVT-002), as SQLite's 0024 says. The events table's type CHECK (0003's,
-- named by PostgreSQL flight_recorder_events_type_check) is replaced by the
-- same list with `editor_edit`, under the same name, so a refused type is
-- reported as before. Every stored row holds (the list only grows); ADD
-- checks them, under the lock DROP took.
--
-- Replay-safe: DROP ... IF EXISTS before ADD.

ALTER TABLE flight_recorder_events
  DROP CONSTRAINT IF EXISTS flight_recorder_events_type_check,
  ADD CONSTRAINT flight_recorder_events_type_check CHECK (type IN (
    'workflow_recovery', 'capability_action', 'llm_inference', 'system',
    'terminal_command', 'editor_edit', 'diagnostic', 'debug_bundle_export', 'security_violation'));
