/**
 * The audit itself (invariants.ts) must catch what the campaign looks for:
 * a clean history passes, and each kind of damage is reported. Without this
 * a green campaign could mean a blind audit.
 */
import { assert, describe, it } from "@effect/vitest"
import { audit } from "./invariants.js"
import type { Snapshot } from "./snapshot.js"

const J = "00000000-0000-4000-8000-00000000000a"
const R1 = "00000000-0000-4000-8000-0000000000b1"
const R2 = "00000000-0000-4000-8000-0000000000b2"

type Ev = Snapshot["events"][number]
let counter = 0
const event = (type: string, from: string | null, to: string | null, extra: Partial<Ev> = {}): Ev => {
  counter += 1
  return {
    event_id: `e-${String(counter).padStart(4, "0")}`,
    type,
    job_id: J,
    workflow_run_id: null,
    timestamp: `2026-01-01T00:00:${String(counter % 60).padStart(2, "0")}.000Z`,
    from_state: from,
    to_state: to,
    decision_outcome: type === "capability_action" ? "allow" : null,
    actor: type === "system" ? "system" : null,
    ...extra
  }
}

/** A job that was queued, claimed (run 1), crashed and recovered, resumed (run 2) and completed. */
const clean = (): Snapshot => {
  counter = 0
  return {
    jobs: [{ id: J, status: "completed", workflow_run_id: R2 }],
    runs: [
      { id: R1, job_id: J, status: "stalled", created_at: "2026-01-01T00:00:02.000Z", updated_at: "2026-01-01T00:00:05.000Z" },
      { id: R2, job_id: J, status: "completed", created_at: "2026-01-01T00:00:06.000Z", updated_at: "2026-01-01T00:00:08.000Z" }
    ],
    nodes: [
      // Ended by the resume, with its run's status (internal/jobs/openNodes.ts).
      { id: "n1", workflow_run_id: R1, status: "stalled", sequence: 0, finished_at: "2026-01-01T00:00:06.000Z" },
      { id: "n2", workflow_run_id: R2, status: "completed", sequence: 0, finished_at: "2026-01-01T00:00:07.000Z" },
      { id: "n3", workflow_run_id: R2, status: "completed", sequence: 1, finished_at: "2026-01-01T00:00:07.500Z" }
    ],
    events: [
      event("capability_action", null, null),
      event("system", null, "queued"),
      event("system", "queued", "running", { workflow_run_id: R1 }),
      event("workflow_recovery", "running", "stalled", { workflow_run_id: R1 }),
      event("system", "stalled", "running", { workflow_run_id: R2 }),
      event("system", "running", "completed", { workflow_run_id: R2 })
    ],
    integrity: { integrityCheck: ["ok"], foreignKeyCheck: [] }
  }
}

const problemsOf = (snapshot: Snapshot, options: Parameters<typeof audit>[1] = { quiescent: true }) => audit(snapshot, options)

describe("reliability: the audit catches damage", () => {
  it("R6 R9 a clean history has no problems", () => {
    assert.deepStrictEqual(problemsOf(clean()), [])
  })

  it("R6 a state change without its event is reported", () => {
    const s = clean()
    const broken = { ...s, events: s.events.filter((e) => !(e.from_state === "stalled")) }
    assert.isTrue(problemsOf(broken).some((p) => p.includes("events chain")))
  })

  it("R6 a terminal state overwritten is reported", () => {
    const s = clean()
    const broken = { ...s, jobs: [{ ...s.jobs[0]!, status: "failed" }], events: [...s.events, event("system", "completed", "failed")] }
    assert.isTrue(problemsOf(broken).some((p) => p.includes("terminal state completed overwritten")))
  })

  it("R9 a stalled run without its recovery event, or with two, is reported", () => {
    const s = clean()
    const none = { ...s, events: s.events.filter((e) => e.type !== "workflow_recovery") }
    assert.isTrue(problemsOf(none).some((p) => p.includes("0 workflow_recovery events, expected 1")))
    const twice = { ...s, events: [...s.events, event("workflow_recovery", "running", "stalled", { workflow_run_id: R1 })] }
    assert.isTrue(problemsOf(twice).some((p) => p.includes("2 workflow_recovery events, expected 1")))
  })

  it("R9 a system event moving a job to stalled is reported; a pin of a stalled job (stalled to stalled, no move) is not", () => {
    const s = clean()
    const stalled: Snapshot = {
      ...s,
      jobs: [{ ...s.jobs[0]!, status: "stalled", workflow_run_id: R1 }],
      runs: [s.runs[0]!],
      nodes: [{ ...s.nodes[0]!, status: "running", finished_at: null }],
      events: s.events.slice(0, 4)
    }
    assert.deepStrictEqual(problemsOf(stalled), [])
    // Flagged by an outside probe: the audit called the pin's record a move to stalled.
    const pinned = { ...stalled, events: [...stalled.events, event("system", "stalled", "stalled")] }
    assert.deepStrictEqual(problemsOf(pinned), [])
    const moved = { ...stalled, events: [...stalled.events.slice(0, 3), event("system", "running", "stalled", { workflow_run_id: R1 })] }
    assert.isTrue(problemsOf(moved).some((p) => p.includes("a system event moved it to stalled")))
  })

  it("R6 a job claimed twice (two running runs) is reported", () => {
    const s = clean()
    const broken: Snapshot = {
      ...s,
      jobs: [{ ...s.jobs[0]!, status: "running" }],
      runs: s.runs.map((r) => ({ ...r, status: "running" }))
    }
    assert.isTrue(problemsOf(broken, { quiescent: false }).some((p) => p.includes("claimed twice")))
  })

  it("R9 a run still running after recovery, a lost job and a stray job are reported", () => {
    const s = clean()
    assert.isTrue(problemsOf(s, { quiescent: true, submitted: new Set([J, "lost-job"]) }).some((p) => p.includes("lost-job")))
    assert.isTrue(problemsOf(s, { quiescent: true, intended: new Set() }).some((p) => p.includes("nobody submitted it")))
    const running: Snapshot = { ...s, runs: [s.runs[0]!, { ...s.runs[1]!, status: "running" }] }
    assert.isTrue(problemsOf(running).some((p) => p.includes("still running after recovery")))
  })

  it("R8 a node left running in a run that ended is reported, whoever ended it; in a stalled run, it is not", () => {
    const ended = clean()
    const open = { id: "n4", workflow_run_id: R2, status: "running", sequence: 2, finished_at: null }
    const withOpenNode = { ...ended, nodes: [...ended.nodes, open] }
    assert.isTrue(problemsOf(withOpenNode).some((p) => p.includes(`node n4 is still running in run ${R2}, which ended completed`)))

    // The same history, but the move out of running was a human's: the move ends the run's open nodes too.
    const taken = {
      ...withOpenNode,
      events: withOpenNode.events.map((e) => e.from_state === "running" && e.to_state === "completed" ? { ...e, actor: "human" } : e)
    }
    assert.isTrue(problemsOf(taken).some((p) => p.includes(`node n4 is still running in run ${R2}, which ended completed`)))
  })

  it("R8 HSK-WF-001 a node left running in a stalled run is reported once its job moved on (resumed, cancelled, failed), not while the job is still stalled under it", () => {
    const resumed = clean()
    const leftOpen = { ...resumed, nodes: resumed.nodes.map((n) => n.id === "n1" ? { ...n, status: "running", finished_at: null } : n) }
    assert.isTrue(problemsOf(leftOpen).some((p) => p.includes(`node n1 is still running in stalled run ${R1}, whose job moved on (completed)`)))
    const cancelled: Snapshot = {
      ...leftOpen,
      jobs: [{ id: J, status: "cancelled", workflow_run_id: R1 }],
      runs: [leftOpen.runs[0]!],
      nodes: [leftOpen.nodes[0]!],
      events: [...leftOpen.events.slice(0, 4), event("system", "stalled", "cancelled", { workflow_run_id: R1 })]
    }
    assert.isTrue(problemsOf(cancelled).some((p) => p.includes(`node n1 is still running in stalled run ${R1}, whose job moved on (cancelled)`)))
    const stillStalled: Snapshot = { ...cancelled, jobs: [{ id: J, status: "stalled", workflow_run_id: R1 }], events: leftOpen.events.slice(0, 4) }
    assert.deepStrictEqual(problemsOf(stillStalled), [])
  })

  it("R8 a gap in node sequences, an illegal status and a failed integrity check are reported", () => {
    const s = clean()
    const gap = { ...s, nodes: s.nodes.map((n) => n.id === "n3" ? { ...n, sequence: 2 } : n) }
    assert.isTrue(problemsOf(gap).some((p) => p.includes("node sequences")))
    const illegal = { ...s, jobs: [{ ...s.jobs[0]!, status: "done" }] }
    assert.isTrue(problemsOf(illegal).some((p) => p.includes("illegal status done")))
    const corrupt = { ...s, integrity: { integrityCheck: ["row 3 missing from index"], foreignKeyCheck: [{ table: "workflow_runs" }] } }
    const problems = problemsOf(corrupt)
    assert.isTrue(problems.some((p) => p.includes("integrity_check")))
    assert.isTrue(problems.some((p) => p.includes("foreign_key_check")))
  })
})
