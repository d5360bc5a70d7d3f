/**
 * The invariants the reliability campaign holds a database to, checked on a
 * snapshot (snapshot.ts). Each check returns every violation it finds, as a
 * sentence naming the row, so one failing audit says all that is wrong.
 */
import { JobStates } from "../../src/domain/JobState.js"
import { isTerminal } from "../../src/domain/Lifecycle.js"
import type { JobState } from "../../src/domain/JobState.js"
import type { Snapshot } from "./snapshot.js"

type Event = Snapshot["events"][number]
type Run = Snapshot["runs"][number]

const STATES: ReadonlySet<string> = new Set(JobStates)
/** A node takes any job state but `queued` (the domain's NodeStatus): a run ended from outside ends its open nodes with its own state. */
const NODE_STATES: ReadonlySet<string> = new Set(JobStates.filter((state) => state !== "queued"))
/**
 * Where a run can be when a node of it is still `running`: running, or stalled by recovery (its
 * process presumed dead, nothing more written) while its job is still stalled under it. A run
 * ended any other way, by its worker or by an operator, ended its open nodes with it, and a
 * job's move out of `stalled` ends its stalled run's (README, "A run taken away").
 */
const RUN_STATES_WITH_OPEN_NODES: ReadonlySet<string> = new Set(["running", "stalled"])

const groupBy = <A>(items: ReadonlyArray<A>, key: (a: A) => string | null): Map<string, Array<A>> => {
  const map = new Map<string, Array<A>>()
  for (const item of items) {
    const k = key(item)
    if (k === null) continue
    const list = map.get(k)
    if (list === undefined) map.set(k, [item])
    else list.push(item)
  }
  return map
}

const byTime = (a: { timestamp: string; event_id: string }, b: { timestamp: string; event_id: string }) =>
  a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : 0

/**
 * Walks a job's state changes from creation: `system` events and
 * `workflow_recovery` events (running → stalled), oldest first. Every event
 * must be used and the walk must end at the job's current state. Among events
 * leaving the current state the oldest is taken, so two processes' events in
 * the same millisecond still chain. A pin's or unpin's event (from a state to
 * the same) moves nothing and is left out of the walk: its record is built
 * after the job's lock is taken, a rival move's before it waits for that lock,
 * so the two can be stamped in either order; `audit` checks it names a state
 * of the walk instead.
 */
export const chainOf = (events: ReadonlyArray<Event>): { readonly end: string | null; readonly unused: ReadonlyArray<Event>; readonly path: ReadonlyArray<string> } => {
  const edges = events
    .filter((e) => (e.type === "system" || e.type === "workflow_recovery") && e.from_state !== e.to_state)
    .map((e) => ({ ...e, from: e.from_state, to: e.to_state }))
    .sort(byTime)
  const used = new Set<number>()
  let current: string | null = null
  const path: Array<string> = []
  while (used.size < edges.length) {
    const next = edges.findIndex((e, i) => !used.has(i) && e.from === current)
    if (next < 0) break
    used.add(next)
    current = edges[next]!.to
    path.push(String(current))
  }
  return { end: current, unused: edges.filter((_, i) => !used.has(i)), path }
}

/** What the audit expects beyond the invariants that always hold. */
export interface AuditOptions {
  /** No process is working: nothing may be running (after recovery of a crash, after clean exits). */
  readonly quiescent: boolean
  /** Jobs whose submit committed: each must be stored. */
  readonly submitted?: ReadonlySet<string>
  /** Jobs a process meant to submit: nothing else may be stored. */
  readonly intended?: ReadonlySet<string>
}

/** Every violation of the campaign's invariants in `snapshot`. */
export const audit = (snapshot: Snapshot, options: AuditOptions): Array<string> => {
  const problems: Array<string> = []
  const jobs = new Map(snapshot.jobs.map((job) => [job.id, job]))
  const runsByJob = groupBy(snapshot.runs, (run) => run.job_id)
  const runs = new Map(snapshot.runs.map((run) => [run.id, run]))
  const nodesByRun = groupBy(snapshot.nodes, (node) => node.workflow_run_id)
  const eventsByJob = groupBy(snapshot.events, (event) => event.job_id)
  const recoveriesByRun = groupBy(snapshot.events.filter((e) => e.type === "workflow_recovery"), (e) => e.workflow_run_id)

  // Every row in a legal state.
  for (const job of snapshot.jobs) if (!STATES.has(job.status)) problems.push(`job ${job.id} has illegal status ${job.status}`)
  for (const run of snapshot.runs) {
    if (!STATES.has(run.status) || run.status === "queued") problems.push(`run ${run.id} has illegal status ${run.status}`)
    if (!jobs.has(run.job_id)) problems.push(`run ${run.id} belongs to missing job ${run.job_id}`)
  }
  for (const node of snapshot.nodes) {
    if (!NODE_STATES.has(node.status)) problems.push(`node ${node.id} has illegal status ${node.status}`)
    // Running: not finished. Ended: finished. Awaiting validation or a user: paused, either (R8, as the reference).
    const paused = node.status === "awaiting_validation" || node.status === "awaiting_user"
    if (!paused && (node.status === "running") !== (node.finished_at === null)) problems.push(`node ${node.id} is ${node.status} with finished_at ${node.finished_at}`)
    const run = runs.get(node.workflow_run_id)
    if (run === undefined) problems.push(`node ${node.id} belongs to missing run ${node.workflow_run_id}`)
    else if (node.status === "running" && !RUN_STATES_WITH_OPEN_NODES.has(run.status)) {
      problems.push(`node ${node.id} is still running in run ${run.id}, which ended ${run.status}`)
    } else if (node.status === "running" && run.status === "stalled") {
      const job = jobs.get(run.job_id)
      if (job !== undefined && (job.status !== "stalled" || job.workflow_run_id !== run.id)) {
        problems.push(`node ${node.id} is still running in stalled run ${run.id}, whose job moved on (${job.status})`)
      }
    }
  }
  for (const [runId, nodes] of nodesByRun) {
    const sequences = nodes.map((n) => n.sequence).sort((a, b) => a - b)
    if (sequences.some((s, i) => s !== i)) problems.push(`run ${runId} has node sequences ${sequences.join(",")}, not 0..${nodes.length - 1}`)
  }

  for (const job of snapshot.jobs) {
    const jobRuns = [...(runsByJob.get(job.id) ?? [])].sort((a, b) => a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.id < b.id ? -1 : 1)
    const events = eventsByJob.get(job.id) ?? []

    // The job points at its newest run; at most one run is running, and only the current one of a running job.
    const latest = jobRuns[jobRuns.length - 1]
    if ((job.workflow_run_id ?? undefined) !== latest?.id) {
      problems.push(`job ${job.id} points at run ${job.workflow_run_id}, its newest run is ${latest?.id ?? "none"}`)
    }
    const running = jobRuns.filter((run) => run.status === "running")
    if (running.length > 1) problems.push(`job ${job.id} has ${running.length} running runs: claimed twice`)
    if (job.status === "running" && (running.length !== 1 || running[0]!.id !== job.workflow_run_id)) {
      problems.push(`job ${job.id} is running but its current run ${job.workflow_run_id} is not`)
    }
    if (job.status !== "running" && running.length > 0) problems.push(`job ${job.id} is ${job.status} but run ${running[0]!.id} is running`)
    // One run at a time: each run began after the previous one ended.
    for (let i = 1; i < jobRuns.length; i++) {
      const previous = jobRuns[i - 1] as Run
      const next = jobRuns[i] as Run
      if (next.created_at < previous.updated_at) {
        problems.push(`job ${job.id}: run ${next.id} began at ${next.created_at}, before run ${previous.id} ended at ${previous.updated_at}`)
      }
    }

    // Every state change has its event: the events chain from creation to the current state.
    const chain = chainOf(events)
    if (chain.end !== job.status || chain.unused.length > 0) {
      problems.push(
        `job ${job.id} is ${job.status} but its events chain ${["null", ...chain.path].join("→")}` +
          (chain.unused.length > 0 ? `, leaving ${chain.unused.map((e) => `${e.from_state}→${e.to_state}`).join(", ")} unexplained` : "")
      )
    }
    for (const event of events) {
      if (event.type === "system" && event.from_state !== null && event.from_state === event.to_state && !chain.path.includes(event.from_state)) {
        problems.push(`job ${job.id}: pin event ${event.event_id} names ${event.from_state}, a state its events never reach`)
      }
      // A pin or unpin of a terminal job is an event from its state to the same state: no move.
      if (event.type === "system" && event.from_state !== null && event.from_state !== event.to_state && isTerminal(event.from_state as JobState)) {
        problems.push(`job ${job.id}: terminal state ${event.from_state} overwritten by ${event.to_state} (event ${event.event_id})`)
      }
      // A pin or unpin of a stalled job is a record from stalled to stalled, no move (found by an outside probe).
      if (event.type === "system" && event.to_state === "stalled" && event.from_state !== "stalled") {
        problems.push(`job ${job.id}: a system event moved it to stalled; only recovery may`)
      }
    }

    // One claim, one run: each run has exactly one event that moved the job to running with it
    // (a pin of a running job, running → running, moves nothing).
    const starts = events.filter((e) => e.type === "system" && e.to_state === "running" && e.from_state !== "running")
    const startsByRun = groupBy(starts, (e) => e.workflow_run_id)
    for (const run of jobRuns) {
      const count = startsByRun.get(run.id)?.length ?? 0
      if (count !== 1) problems.push(`run ${run.id} of job ${job.id} has ${count} start events, expected 1`)
    }
    if (starts.length !== jobRuns.length) problems.push(`job ${job.id} has ${starts.length} start events for ${jobRuns.length} runs`)

    // Capability decisions are recorded for every stored job (R15).
    const decisions = events.filter((e) => e.type === "capability_action")
    if (decisions.length === 0 || decisions.some((e) => e.decision_outcome !== "allow")) {
      problems.push(`job ${job.id} has capability decisions ${JSON.stringify(decisions.map((e) => e.decision_outcome))}`)
    }
  }

  // Recovery: a stalled run has exactly one workflow_recovery event, and no other run has one.
  for (const run of snapshot.runs) {
    const recoveries = recoveriesByRun.get(run.id) ?? []
    const expected = run.status === "stalled" ? 1 : 0
    if (recoveries.length !== expected) problems.push(`run ${run.id} is ${run.status} with ${recoveries.length} workflow_recovery events, expected ${expected}`)
    for (const event of recoveries) if (event.job_id !== run.job_id) problems.push(`recovery event ${event.event_id} names job ${event.job_id}, its run belongs to ${run.job_id}`)
  }

  // Every event accounted for: of a known type and a stored job, and (recoveries) of a stored run.
  for (const event of snapshot.events) {
    if (!["system", "capability_action", "workflow_recovery"].includes(event.type)) problems.push(`event ${event.event_id} has unexpected type ${event.type}`)
    if (event.job_id === null || !jobs.has(event.job_id)) problems.push(`event ${event.event_id} (${event.type}) names no stored job (${event.job_id})`)
    if (event.type === "workflow_recovery" && (event.workflow_run_id === null || !runs.has(event.workflow_run_id))) {
      problems.push(`recovery event ${event.event_id} names no stored run`)
    }
  }

  if (options.quiescent) {
    for (const run of snapshot.runs) if (run.status === "running") problems.push(`run ${run.id} is still running after recovery`)
  }
  if (options.submitted !== undefined) {
    for (const id of options.submitted) if (!jobs.has(id)) problems.push(`job ${id} was submitted (committed) but is lost`)
  }
  if (options.intended !== undefined) {
    for (const job of snapshot.jobs) if (!options.intended.has(job.id)) problems.push(`job ${job.id} is stored but nobody submitted it`)
  }
  if (snapshot.integrity !== undefined) {
    if (snapshot.integrity.integrityCheck.length !== 1 || snapshot.integrity.integrityCheck[0] !== "ok") {
      problems.push(`PRAGMA integrity_check: ${snapshot.integrity.integrityCheck.join("; ")}`)
    }
    if (snapshot.integrity.foreignKeyCheck.length > 0) problems.push(`PRAGMA foreign_key_check: ${JSON.stringify(snapshot.integrity.foreignKeyCheck.slice(0, 5))}`)
  }
  return problems
}

/**
 * `audit` of a quiescent database, less what pruning leaves by design (R18):
 * the events of pruned jobs stay (README, "The Janitor"), and a gc_summary
 * names no job. `recorded`: ids of events a test recorded itself (of a type
 * the audit does not expect), left out too.
 */
export const auditAfterPrune = (snapshot: Snapshot, recorded: ReadonlyArray<string> = []): Array<string> =>
  audit(snapshot, { quiescent: true }).filter((problem) =>
    !/^event \S+ \((system|capability_action)\) names no stored job/.test(problem) &&
    !recorded.some((id) => problem.startsWith(`event ${id} `))
  )
