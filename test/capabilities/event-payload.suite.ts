/**
 * R12 `capability_action` carries the reference's four payload fields —
 * `capability_id`, `actor_id`, `job_id`, `decision_outcome` — and nothing
 * else beyond the envelope: the reference's validator refuses any other
 * ("unexpected payload field"), and our events named `profile_id` and a
 * denial's `reason` too. The profile decided under stays on the job row and in
 * the typed error. Events an earlier release stored with those two keys are
 * never rewritten: they still read and list as written; the recorder refuses
 * them in a new event, as any unknown key. Run against each store.
 */
import { assert, describe, it } from "@effect/vitest"
import { randomUUID } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Layer from "effect/Layer"
import * as Capabilities from "../../src/Capabilities.js"
import { eventDetail, encodeEvent } from "../../src/cli/format.js"
import type { EventRecord } from "../../src/domain/EventRecord.js"
import type { JobId } from "../../src/domain/Ids.js"
import { FlightRecorder } from "../../src/FlightRecorder.js"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import type { Backend } from "../support/backend.js"
import { insertRaw } from "../support/rawEvents.js"
import { summarize } from "../jobs/jobs.suite.js"
import { servicesUnder } from "../jobs/services.js"

/** The reference's policy and one profile narrower than Analyst that lacks `doc.summarize`: a CapabilityDenied with an allow and a deny. */
const policy = Capabilities.layer({
  ...Capabilities.defaultConfig,
  profiles: { ...Capabilities.defaultConfig.profiles, Reader: ["fs.read"] },
  kinds: { ...Capabilities.defaultConfig.kinds, doc_summarize: { profile: "Analyst", requires: ["doc.summarize", "fs.read"] } }
})

/** Every key of a stored `capability_action` body: the envelope the library writes and the four payload fields. */
const EVENT_KEYS = ["actor", "actor_id", "capability_id", "decision_outcome", "event_id", "job_id", "timestamp", "trace_id", "type"]

const decisionsOf = (jobId: string) =>
  Effect.flatMap(JobStore, (store) =>
    Effect.map(
      store.listEvents({ job_id: jobId as JobId, types: ["capability_action"], limit: 1000 }),
      (page) => page.items
    ))

/** The payload beyond the envelope, as a reference-shaped reader compares it. */
const payload = (event: EventRecord) => {
  const { actor: _actor, event_id: _id, timestamp: _at, trace_id: _trace, type: _type, ...rest } = event.body as Record<string, unknown>
  return rest
}

export const runEventPayloadSuite = (backend: Backend) => {
  const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.provide(effect, servicesUnder(policy, backend.makeStoreWithSql()) as Layer.Layer<Exclude<R, never>, unknown>)

  describe(`capability_action payloads on ${backend.name}`, () => {
    it.effect("R12 R15 allow, deny (CapabilityDenied), escalation and unknown profile each record exactly capability_id, actor_id, job_id and decision_outcome; the profile is on the job row and in the error", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const allowed = yield* jobs.submit(summarize({ profile_id: "alice" }))
        assert.strictEqual(allowed.capability_profile_id, "Analyst")
        const refusals = [
          ["Reader", "CapabilityDenied"],
          ["Coder", "EscalationDenied"],
          ["Nobody", "UnknownProfile"]
        ] as const
        const refused: Array<readonly [string, ReadonlyArray<EventRecord>]> = []
        for (const [profile, tag] of refusals) {
          const id = randomUUID()
          const error = yield* Effect.flip(jobs.submit(summarize({ job_id: id, profile_id: "alice", capability_profile_id: profile })))
          assert.strictEqual(error._tag, tag)
          assert.include(error.message, profile, "the typed error names the profile")
          refused.push([id, yield* decisionsOf(id)])
        }
        const trails = [[allowed.job_id as string, yield* decisionsOf(allowed.job_id)] as const, ...refused]
        const expected: ReadonlyArray<ReadonlyArray<readonly [string, "allow" | "deny"]>> = [
          [["doc.summarize", "allow"], ["fs.read", "allow"]],
          [["doc.summarize", "deny"], ["fs.read", "allow"]],
          [["fs.write", "deny"], ["proc.exec", "deny"], ["terminal.exec", "deny"]],
          [["doc.summarize", "deny"], ["fs.read", "deny"]]
        ]
        for (const [index, [jobId, events]] of trails.entries()) {
          const decided = events.map((event) => {
            assert.deepStrictEqual(Object.keys(event.body).sort(), EVENT_KEYS, `${jobId}: no key beyond the four and the envelope`)
            return payload(event)
          }).sort((a, b) => String(a["capability_id"]).localeCompare(String(b["capability_id"])))
          assert.deepStrictEqual(
            decided,
            expected[index]!.map(([capability_id, decision_outcome]) => ({ capability_id, actor_id: "alice", job_id: jobId, decision_outcome })),
            jobId
          )
        }
      })))

    it.effect("R12 R13 an event an earlier release stored with profile_id and reason still lists as written (recorder, store, CLI, JSON); recording one is refused as HSK-400 naming the keys, nothing written", () =>
      provide(Effect.gen(function*() {
        const recorder = yield* FlightRecorder
        const store = yield* JobStore
        const jobId = randomUUID()
        const body = {
          event_id: randomUUID(),
          timestamp: "2026-06-01T10:00:00.000Z",
          actor: "system",
          trace_id: randomUUID(),
          job_id: jobId,
          capability_id: "terminal.exec",
          type: "capability_action",
          actor_id: "mallory",
          decision_outcome: "deny",
          profile_id: "Coder",
          reason: "escalation: profile Coder is wider than Analyst"
        }
        yield* insertRaw({ ...body, workflow_run_id: null, body })
        const [listed] = (yield* recorder.list({ job_id: jobId as JobId })).items
        assert.deepStrictEqual<unknown>(encodeEvent(listed!), body, "read and encoded as written")
        assert.strictEqual(eventDetail(listed!), "terminal.exec: deny (profile Coder)")
        assert.deepStrictEqual<unknown>((yield* store.listEvents({ job_id: jobId as JobId })).items.map((event) => event.body), [body])

        const { event_id: _id, profile_id: _profile, reason: _reason, ...current } = body
        for (const extra of [{ profile_id: "Coder" }, { reason: "denied" }]) {
          const refusal = yield* Effect.either(recorder.record({ ...current, event_id: randomUUID(), job_id: randomUUID(), ...extra } as never))
          assert.isTrue(Either.isLeft(refusal))
          if (Either.isLeft(refusal)) {
            assert.strictEqual(refusal.left._tag, "InvalidEvent")
            assert.include(refusal.left.message, "HSK-400-INVALID-EVENT")
            assert.include(refusal.left.message, Object.keys(extra)[0]!)
          }
        }
        assert.strictEqual((yield* recorder.list({ types: ["capability_action"] })).items.length, 1, "nothing written")
        // The current shape records, and lists as the four fields.
        const recorded = yield* recorder.record({ ...current, event_id: randomUUID(), job_id: randomUUID() } as never)
        assert.deepStrictEqual(Object.keys(recorded.body).sort(), EVENT_KEYS)
      })))
  })
}
