/**
 * Which index an event listing should read. `job_id: null` matches every
 * event that names no job — all the database's system events — so when the
 * filter names a run, trace or event too, that key's index is the one to
 * read, and both stores write the null test so no plan starts from the job
 * index instead (PostgreSQL's EXPLAIN chose it for `job_id IS NULL AND
 * workflow_run_id = $1` and filtered the whole database's by run).
 */
import type { EventFilter } from "../JobStore.js"

/** Whether `filter` names a run, trace or event: a narrower key than "no job". */
export const keyed = (filter: EventFilter): boolean =>
  filter.workflow_run_id !== undefined || filter.trace_id !== undefined || filter.event_id !== undefined
