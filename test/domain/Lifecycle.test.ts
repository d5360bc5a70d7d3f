import { assert, describe, it } from "@effect/vitest"
import { type JobState, JobStates, Lifecycle } from "../../src/index.js"

// R6, written out independently of the implementation: the table from SPEC.md.
const spec: Record<JobState, ReadonlyArray<JobState>> = {
  queued: ["running", "cancelled", "failed"],
  running: ["awaiting_validation", "completed", "completed_with_issues", "failed", "cancelled", "poisoned"],
  awaiting_validation: ["awaiting_user", "completed", "completed_with_issues", "failed", "cancelled", "poisoned"],
  awaiting_user: ["running", "completed", "completed_with_issues", "failed", "cancelled"],
  stalled: ["running", "failed", "cancelled"],
  failed: ["queued", "poisoned"],
  completed: [],
  completed_with_issues: [],
  cancelled: [],
  poisoned: []
}

const pairs = JobStates.flatMap((from) => JobStates.map((to) => [from, to] as const))

describe("R6 lifecycle table", () => {
  it("covers all 100 (from, to) pairs", () => {
    assert.strictEqual(pairs.length, 100)
  })

  it.each(pairs)("R6 %s -> %s matches the spec table", (from, to) => {
    assert.strictEqual(Lifecycle.canTransition(from, to), spec[from].includes(to))
  })

  it("R6a running -> stalled is not a general transition; it is the recovery edge", () => {
    assert.isFalse(Lifecycle.canTransition("running", "stalled"))
    assert.deepStrictEqual(Lifecycle.recoveryTransition, { from: "running", to: "stalled" })
    for (const from of JobStates) assert.notInclude(Lifecycle.transitionsFrom(from) as ReadonlyArray<JobState>, "stalled")
  })

  it("R6 running -> queued is not a general transition; it is the release edge of a stopping worker", () => {
    assert.isFalse(Lifecycle.canTransition("running", "queued"))
    assert.deepStrictEqual(Lifecycle.releaseTransition, { from: "running", to: "queued" })
    assert.notInclude(Lifecycle.allowedFrom("queued"), "running")
  })

  it("R6b poisoned is terminal and never retried", () => {
    assert.deepStrictEqual(Lifecycle.transitionsFrom("poisoned"), [])
    assert.isFalse(Lifecycle.canTransition("poisoned", "queued"))
  })

  it("terminal states are exactly completed, completed_with_issues, cancelled, poisoned", () => {
    assert.deepStrictEqual([...Lifecycle.terminalStates].sort(), ["cancelled", "completed", "completed_with_issues", "poisoned"])
    for (const state of JobStates) assert.strictEqual(Lifecycle.isTerminal(state), spec[state].length === 0)
  })

  it.each(JobStates.filter((s) => s !== "stalled"))("allowedFrom(%s) is the inverse of the table", (to) => {
    const target = to as Lifecycle.TransitionTarget
    assert.deepStrictEqual(Lifecycle.allowedFrom(target), JobStates.filter((from) => spec[from].includes(to)))
  })
})
