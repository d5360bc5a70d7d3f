/**
 * Issue 16, R15: under a deterministic capability policy
 * (`Capabilities.deterministic`), Jobs asks the policy once per kind,
 * protocol and requested profile it admits, and decides every later job of
 * that subject by the remembered verdict (internal/jobs/admission.ts). The
 * verdict and the `capability_action` records must be exactly what asking
 * again gives; a refusal, another subject, or a policy that does not declare
 * itself deterministic is asked every time.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Capabilities from "../../src/Capabilities.js"
import type { AiJob } from "../../src/domain/AiJob.js"
import type { EventRecord } from "../../src/domain/EventRecord.js"
import type { JobId, TraceId } from "../../src/domain/Ids.js"
import { uuidv7 } from "../../src/domain/uuidv7.js"
import * as FlightRecorder from "../../src/FlightRecorder.js"
import { makeAdmission, MAX_VERDICTS } from "../../src/internal/jobs/admission.js"
import { makePrepare } from "../../src/internal/jobs/auditEvents.js"
import { JobStore } from "../../src/store/JobStore.js"

type Subject = Pick<AiJob, "job_id" | "trace_id" | "job_kind" | "protocol_id" | "profile_id">

const subject = (fields: Partial<Subject> = {}): Subject => ({
  job_id: uuidv7() as JobId,
  trace_id: uuidv7() as TraceId,
  job_kind: "doc_summarize",
  protocol_id: "hsk.test.v1",
  profile_id: "Analyst",
  ...fields
})

/** The built-in policy, counting how often it is asked; `deterministic` as given. */
const countingPolicy = (deterministic: boolean) =>
  Effect.map(Capabilities.make(Capabilities.defaultConfig), (policy) => {
    let asked = 0
    const service: Capabilities.Capabilities["Type"] = {
      ...policy,
      check: (job, requested) => Effect.suspend(() => (asked++, policy.check(job, requested))),
      deterministic
    }
    return { service, asked: () => asked }
  })

/** An admission over a recorder that writes nothing (decide never writes). */
const admissionWith = (capabilities: Capabilities.Capabilities["Type"]) =>
  Effect.map(
    FlightRecorder.make().pipe(Effect.provideService(JobStore, {} as JobStore["Type"])),
    (recorder) => makeAdmission({} as JobStore["Type"], capabilities, makePrepare(recorder))
  )

/** A record without its address (event id, time, trace, job): what two jobs' decisions share. */
const content = (record: EventRecord) => {
  const { event_id: _e, job_id: _j, timestamp: _t, trace_id: _r, ...body } = record.body as Record<string, unknown>
  return { actor: record.actor, type: record.type, workflow_run_id: record.workflow_run_id, body }
}

describe("issue 16 R15 a deterministic policy's admitting verdict is asked once per subject", () => {
  it.effect("issue 16 R15 the same subject is asked once; its verdict and records are what asking again gives", () =>
    Effect.gen(function*() {
      const memoised = yield* countingPolicy(true)
      const asking = yield* countingPolicy(false)
      const [remembered, fresh] = [yield* admissionWith(memoised.service), yield* admissionWith(asking.service)]
      for (let i = 0; i < 3; i++) {
        const job = subject()
        const [a, b] = [yield* remembered.decide(job, undefined), yield* fresh.decide(job, undefined)]
        assert.deepStrictEqual(a.verdict, b.verdict)
        assert.deepStrictEqual(a.records.map(content), b.records.map(content))
        for (const record of a.records) {
          assert.strictEqual(record.job_id, job.job_id)
          assert.strictEqual(record.trace_id, job.trace_id)
        }
      }
      assert.strictEqual(memoised.asked(), 1, "asked once")
      assert.strictEqual(asking.asked(), 3, "a policy that is not deterministic is asked every time")
    }))

  it.effect("issue 16 R15 another kind, protocol or requested profile is asked; a refusal is asked every time", () =>
    Effect.gen(function*() {
      const policy = yield* countingPolicy(true)
      const admission = yield* admissionWith(policy.service)
      yield* admission.decide(subject(), undefined)
      yield* admission.decide(subject({ protocol_id: "hsk.other.v1" }), undefined)
      yield* admission.decide(subject({ job_kind: "doc_edit" }), undefined)
      yield* admission.decide(subject(), "Analyst")
      assert.strictEqual(policy.asked(), 4)
      // Analyst may not edit documents: refused, and asked again each time.
      for (let i = 0; i < 2; i++) {
        const { verdict } = yield* admission.decide(subject({ job_kind: "doc_edit" }), "Analyst")
        assert.strictEqual(verdict._tag, "Refused")
      }
      assert.strictEqual(policy.asked(), 6)
    }))

  it.effect("issue 16 R15 the remembered verdicts are bounded: the oldest is asked again", () =>
    Effect.gen(function*() {
      const policy = yield* countingPolicy(true)
      const admission = yield* admissionWith(policy.service)
      for (let i = 0; i <= MAX_VERDICTS; i++) yield* admission.decide(subject({ protocol_id: `hsk.p${i}.v1` }), undefined)
      assert.strictEqual(policy.asked(), MAX_VERDICTS + 1)
      yield* admission.decide(subject({ protocol_id: `hsk.p${MAX_VERDICTS}.v1` }), undefined)
      assert.strictEqual(policy.asked(), MAX_VERDICTS + 1, "the newest is remembered")
      yield* admission.decide(subject({ protocol_id: "hsk.p0.v1" }), undefined)
      assert.strictEqual(policy.asked(), MAX_VERDICTS + 2, "the oldest was dropped")
    }))
})
