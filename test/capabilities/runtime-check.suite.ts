/**
 * R15 inside a running job: a program asks the policy before an operation
 * that needs a capability (`ctx.requireCapability`), and each decision is
 * recorded as a `capability_action` event of the job, as the decisions at
 * submit and claim are. Granted: the program goes on. Denied: the program
 * gets `CapabilityDenied` (and, letting it fail, the job ends `failed`).
 * An unknown id is HSK-4001, an error and no decision. Run against each store,
 * through a worker pool, as an application runs its handlers.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import type { JobRequestInput } from "../../src/domain/AiJob.js"
import type { EventRecord } from "../../src/domain/EventRecord.js"
import type { JobId } from "../../src/domain/Ids.js"
import { Jobs, type RunContext } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as Recovery from "../../src/Recovery.js"
import * as WakeUp from "../../src/WakeUp.js"
import { services } from "../jobs/services.js"

const request = (job_kind: "terminal_exec" | "spec_router"): JobRequestInput => ({
  job_kind,
  protocol_id: "hsk.test.v1",
  profile_id: "alice",
  access_mode: job_kind === "terminal_exec" ? "apply_scoped" : "analysis_only",
  safety_mode: "normal"
})

/** The `capability_action` events' bodies about `capabilityId`. */
const runtimeDecisions = (events: ReadonlyArray<EventRecord>, capabilityId: string) =>
  events.flatMap((event) => {
    const body = event.body as Record<string, unknown>
    return event.type === "capability_action" && body["capability_id"] === capabilityId ? [body] : []
  })

export const runRuntimeCheckSuite = (name: string, storeLayer: () => Layer.Layer<JobStore, unknown>) => {
  const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.provide(
      effect,
      services(storeLayer(), Recovery.layerNoStartupRecovery, WakeUp.layerInProcess) as Layer.Layer<Exclude<R, never>, unknown>
    )

  describe(`a program's own capability checks on ${name}`, () => {
    it.live("R15 ctx.requireCapability: each decision is recorded (allow, deny); granted the program goes on, denied it gets CapabilityDenied; an unknown id is HSK-4001 and records nothing", () =>
      provide(Effect.scoped(Effect.gen(function*() {
        const jobs = yield* Jobs
        const store = yield* JobStore
        const unknownIds = yield* Ref.make<ReadonlyArray<string>>([])
        const exec = (ctx: RunContext) =>
          Effect.gen(function*() {
            yield* ctx.requireCapability("fs.read:logs")                     // an axis with a scope: both profiles grant fs.read
            const unknown = yield* Effect.flip(ctx.requireCapability("magic.wand"))
            yield* Ref.update(unknownIds, (ids) => [...ids, unknown._tag])
            yield* ctx.requireCapability("proc.exec")
            return { ran: true }
          })
        yield* jobs.worker({ concurrency: 2, handlers: { terminal_exec: exec, spec_router: exec } })
        const [coder, analyst] = yield* jobs.submitMany([request("terminal_exec"), request("spec_router")])
        const decisions = (jobId: JobId, capabilityId: string) =>
          Effect.map(store.listEvents({ job_id: jobId, limit: 1000 }), (page) => runtimeDecisions(page.items, capabilityId))

        const granted = yield* jobs.await(coder!.job_id, { timeout: "20 seconds" })
        assert.strictEqual(granted.capability_profile_id, "Coder")
        assert.strictEqual(granted.state, "completed")
        assert.deepStrictEqual(granted.job_outputs, { ran: true })
        const allow = yield* decisions(coder!.job_id, "proc.exec")
        assert.strictEqual(allow.length, 1)
        // The reference's four fields (R12) and the envelope: the profile decided under is the job's, not the event's.
        assert.deepInclude(allow[0], { decision_outcome: "allow", actor_id: "alice", job_id: coder!.job_id, trace_id: coder!.trace_id })
        assert.notProperty(allow[0], "profile_id")

        const denied = yield* jobs.await(analyst!.job_id, { timeout: "20 seconds" })
        assert.strictEqual(denied.capability_profile_id, "Analyst")
        assert.strictEqual(denied.state, "failed")
        assert.include(denied.error_message ?? "", "CapabilityDenied")
        assert.include(denied.error_message ?? "", "Profile Analyst does not grant proc.exec, which this spec_router job needs")
        const deny = yield* decisions(analyst!.job_id, "proc.exec")
        assert.strictEqual(deny.length, 1)
        assert.deepInclude(deny[0], { decision_outcome: "deny", actor_id: "alice", job_id: analyst!.job_id })
        assert.notProperty(deny[0], "profile_id")
        assert.notProperty(deny[0], "reason")

        for (const job of [coder!, analyst!]) {
          assert.deepStrictEqual((yield* decisions(job.job_id, "fs.read:logs")).map((body) => body["decision_outcome"]), ["allow"])
          assert.strictEqual((yield* decisions(job.job_id, "magic.wand")).length, 0)
        }
        assert.deepStrictEqual(yield* Ref.get(unknownIds), ["UnknownCapability", "UnknownCapability"])
      }))))
  })
}
