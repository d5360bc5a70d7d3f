/**
 * WakeUp (issue 15.3): how idle workers, runs and callers awaiting a job hear
 * that a job changed (PostgreSQL `LISTEN/NOTIFY`, an in-process signal on
 * SQLite, or polling only). The public module; the implementation lives in
 * `internal/wakeUp/`, where the Jobs internals reach it without an import
 * back up.
 */
export * from "./internal/wakeUp/wakeUp.js"
