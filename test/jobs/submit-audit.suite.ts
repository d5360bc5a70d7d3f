/**
 * A submitted job's trail is its own and complete (found by an outside
 * attacker's probe), run unchanged on each store:
 * - R13/R15 an id whose trail holds only a refused request is sent again only
 *   by that request's caller (its `actor_id`, a kind the decisions fit); another caller's job
 *   under it took over the refusal's deny events. `submit` and `submitMany`
 *   are `AlreadyExists`, nothing written.
 * - R18 a job submitted pinned has the event a `jobs.pin` writes, after its
 *   queued event, in its creation's write; an unpinned one has none.
 */
import { assert, describe, it } from "@effect/vitest"
import { randomUUID } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { EventRecord } from "../../src/domain/EventRecord.js"
import type { JobId } from "../../src/domain/Ids.js"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { AlreadyExists } from "../../src/store/StoreErrors.js"
import type { Backend } from "../support/backend.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"

/** Every event about `jobId`, oldest first. */
const trailOf = (jobId: string) =>
  Effect.flatMap(JobStore, (store) => Effect.map(store.listEvents({ job_id: jobId as JobId, limit: 1000 }), (page) => page.items))

/** A `system` event as [actor, from, to, reason]; a decision as [actor_id, outcome]. */
const shown = (event: EventRecord) =>
  event.type === "system"
    ? [event.actor, event.body["from_state"], event.body["to_state"], event.body["reason"] ?? null]
    : [event.body["actor_id"], event.body["decision_outcome"]]

/** What a refused request's id refuses another caller with. */
const takenBy = (id: string) => `The job id ${id} is named by the audit trail of another caller's refused request: give the new job another id`

export const runSubmitAuditSuite = (backend: Backend) => {
  const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.provide(effect, services(backend.makeStore()) as Layer.Layer<Exclude<R, never>, unknown>)

  describe(`submit's audit trail on ${backend.name}`, () => {
    it.effect("R13 R15 an id whose trail holds only mallory's refused request is AlreadyExists for alice's job (submit, submitMany) and for mallory's job of another kind, nothing written; mallory's own request sent again is taken", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const id = randomUUID()
        const refusal = yield* Effect.flip(jobs.submit(summarize({ job_id: id, profile_id: "mallory", capability_profile_id: "Coder" })))
        assert.strictEqual(refusal._tag, "EscalationDenied")
        const refused = yield* trailOf(id)
        assert.deepStrictEqual(refused.map(shown), [["mallory", "deny"], ["mallory", "deny"], ["mallory", "deny"]])
        const attempts: ReadonlyArray<readonly [string, Effect.Effect<unknown, unknown>]> = [
          ["alice's submit", jobs.submit(summarize({ job_id: id, profile_id: "alice" }))],
          ["alice's submitMany", jobs.submitMany([summarize(), summarize({ job_id: id, profile_id: "alice" })])],
          // Coder grants all three denied capabilities: no request for doc_edit (a Coder kind) could have been refused them.
          // (A spec_router runs under Analyst, as doc_summarize does: the reference's four fields (R12) do not tell them apart.)
          ["mallory's doc_edit", jobs.submit(summarize({ job_id: id, profile_id: "mallory", job_kind: "doc_edit" }))]
        ]
        for (const [label, taken] of attempts) {
          const error = Either.getLeft(yield* Effect.either(taken)).pipe(Option.getOrNull)
          assert.instanceOf(error, AlreadyExists, label)
          if (!(error instanceof AlreadyExists)) continue
          assert.deepStrictEqual([error.entity, error.id, error.refused_request], ["job", id, true], label)
          assert.strictEqual(error.message, takenBy(id), label)
        }
        assert.deepStrictEqual((yield* jobs.list()).items, [], "no job written")
        assert.deepStrictEqual(yield* trailOf(id), refused, "nothing recorded under the id")
        // The refused request sent again by its caller, narrowed: the job's trail begins with its own refusal.
        const mine = yield* jobs.submit(summarize({ job_id: id, profile_id: "mallory" }))
        assert.strictEqual(mine.job_id as string, id)
        assert.deepStrictEqual((yield* trailOf(id)).map(shown), [
          ...refused.map(shown),
          ["mallory", "allow"],
          ["system", null, "queued", null]
        ])
        // And through submitMany: another id mallory's refused request left.
        const other = randomUUID()
        yield* Effect.flip(jobs.submit(summarize({ job_id: other, profile_id: "mallory", capability_profile_id: "Coder" })))
        const batch = yield* jobs.submitMany([summarize({ job_id: other, profile_id: "mallory" })])
        assert.strictEqual(batch[0]!.job_id as string, other)
      })))

    it.effect("R18 a job submitted pinned gets the event jobs.pin writes, after its queued event, by submit and submitMany; an unpinned one gets none; a later unpin follows its pin", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const pinned = yield* jobs.submit(summarize({ is_pinned: true }))
        assert.isTrue(pinned.is_pinned)
        const [batchPinned, batchPlain] = yield* jobs.submitMany([summarize({ is_pinned: true }), summarize()])
        const plain = yield* jobs.submit(summarize())
        const expected = [["tester", "allow"], ["system", null, "queued", null], ["system", "queued", "queued", "pinned"]]
        assert.deepStrictEqual((yield* trailOf(pinned.job_id)).map(shown), expected)
        assert.deepStrictEqual((yield* trailOf(batchPinned!.job_id)).map(shown), expected)
        assert.deepStrictEqual((yield* trailOf(batchPlain!.job_id)).map(shown), expected.slice(0, 2), "nothing more for an unpinned job")
        assert.deepStrictEqual((yield* trailOf(plain.job_id)).map(shown), expected.slice(0, 2))
        // The same event as a pin's: type, actor, fields and reason; in the creation's instant.
        yield* jobs.pin(plain.job_id)
        const byPin = (yield* trailOf(plain.job_id)).at(-1)!
        const atSubmit = (yield* trailOf(pinned.job_id)).at(-1)!
        assert.deepStrictEqual(
          [atSubmit.type, atSubmit.actor, atSubmit.workflow_run_id, Object.keys(atSubmit.body).sort()],
          [byPin.type, byPin.actor, byPin.workflow_run_id, Object.keys(byPin.body).sort()]
        )
        assert.strictEqual(atSubmit.timestamp.epochMillis, pinned.created_at.epochMillis)
        yield* jobs.unpin(pinned.job_id, { actor: "human" })
        assert.deepStrictEqual((yield* trailOf(pinned.job_id)).slice(-2).map(shown), [
          ["system", "queued", "queued", "pinned"],
          ["human", "queued", "queued", "unpinned"]
        ])
      })))
  })
}
