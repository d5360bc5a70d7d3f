/**
 * Issue 15.3 / 16: what the listener makes of a notification's payload. The
 * trigger's own payload is read by hand (it is on every pickup's path); any
 * other shape goes through the Schema, which stays the authority: the same
 * signal either way, and a payload that does not read becomes "look again",
 * never a dropped change.
 */
import { assert, describe, it } from "@effect/vitest"
import { fromPayload, type Signal } from "../../src/internal/wakeUp/signal.js"

const id = "0190a000-0000-7000-8000-0000000000aa"
const trigger = { job_id: id, state: "queued", job_kind: "doc_summarize", run_after: 1764441600123 }
/** As a signal, for comparing (deepStrictEqual wants the signal's own type). */
const changed = { _tag: "JobChanged", ...trigger } as unknown as Signal

describe("issue 15.3 a notification's payload", () => {
  it("issue 15.3 the trigger's payload reads as the change it announces", () => {
    assert.deepStrictEqual(fromPayload(JSON.stringify(trigger)), changed)
  })

  it("issue 15.3 other shapes the Schema accepts read the same as before: an upper-case id, a numeric string, extra fields", () => {
    assert.deepStrictEqual(fromPayload(JSON.stringify({ ...trigger, job_id: id.toUpperCase() })), changed)
    assert.deepStrictEqual(fromPayload(JSON.stringify({ ...trigger, run_after: "1764441600123" })), changed)
    assert.deepStrictEqual(fromPayload(JSON.stringify({ ...trigger, extra: 1 })), changed)
  })

  it("R6c an offer's payload (migration 0016's trigger: the job, running, with \"offered\": true) reads as an offer, by hand and by the Schema", () => {
    const offer = { ...trigger, state: "running", offered: true }
    const expected = { _tag: "JobChanged", ...offer } as unknown as Signal
    assert.deepStrictEqual(fromPayload(JSON.stringify(offer)), expected)
    assert.deepStrictEqual(fromPayload(JSON.stringify({ ...offer, run_after: String(offer.run_after) })), expected)
    for (const offered of [false, "true", 1, null]) {
      assert.deepStrictEqual(fromPayload(JSON.stringify({ ...offer, offered })), { _tag: "LookAgain" }, String(offered))
    }
  })

  it("issue 15.3 a payload that does not read is look again, never a dropped change", () => {
    for (
      const payload of [
        "", "not json", "null", "[]", "42", JSON.stringify({ ...trigger, state: "sleeping" }),
        JSON.stringify({ ...trigger, job_kind: "term_exec" }), JSON.stringify({ ...trigger, job_kind: "nope" }),
        JSON.stringify({ ...trigger, job_id: "00000000-0000-0000-0000-000000000000" }), JSON.stringify({ ...trigger, job_id: "x" }),
        JSON.stringify({ ...trigger, run_after: "soon" }), JSON.stringify({ ...trigger, run_after: null }),
        JSON.stringify({ job_id: id, state: "queued", job_kind: "doc_summarize" })
      ]
    ) {
      assert.deepStrictEqual(fromPayload(payload), { _tag: "LookAgain" }, payload)
    }
  })
})
