/**
 * Pins what a mutation audit (stop 76) found unpinned (mutants M22, M07). README: "It is not looked for ... inside a transaction the store joins
 * ... A run offered to workers (`handTo: "workers"`), and an adoption of one, are left to them and
 * to recovery."
 * - M22: a resume with handTo "workers" whose commit landed but whose answer was lost: the job stays
 *   running under its offered run (left to the workers), not released to queued.
 * - M07: a claimNext inside the store's own transaction whose answer was lost: no look is made.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { JobStore } from "../../src/store/JobStore.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import { jobsOver } from "../engine/eagerPools.js"
import { summarize } from "./jobs.suite.js"
import { sharedBackends } from "./shared-database.js"

type Store = JobStore["Type"]
const lostConnection = (operation: string) =>
  new StorageError({ operation, cause: new Error("simulated: Connection terminated unexpectedly") })

const losing = (store: Store) => {
  const state = { armed: false, armedTransaction: false, lost: 0, looks: 0 }
  const wrapped: Store = {
    ...store,
    listEvents: (filter) => {
      state.looks++
      return store.listEvents(filter)
    },
    getRun: (id) => {
      state.looks++
      return store.getRun(id)
    },
    claimAdmitted: (options) =>
      Effect.flatMap(store.claimAdmitted!(options), (outcome) => {
        if (!state.armed || outcome === null || outcome._tag !== "Claimed") return Effect.succeed(outcome)
        state.armed = false
        state.lost++
        return Effect.fail(lostConnection("JobStore.claimAdmitted"))
      }),
    transaction: (effect) =>
      Effect.flatMap(store.transaction(effect), (value) => {
        if (!state.armedTransaction) return Effect.succeed(value)
        state.armedTransaction = false
        state.lost++
        return Effect.fail(lostConnection("JobStore.transaction"))
      })
  }
  return { state, store: wrapped }
}

for (const backend of sharedBackends) {
  describe(`lost answers left alone, ${backend.name}`, () => {
    it.live("R6 a resume handed to workers whose answer was lost: the offered run is left to the workers (job stays running under it)", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("resume workers answer lost")
        const l = losing(yield* database.store())
        const jobs = yield* jobsOver(database, l.store)
        const job = yield* jobs.submit(summarize())
        const claim = yield* jobs.claimNext()
        assert.strictEqual(claim?.job.job_id, job.job_id)
        const ahead = DateTime.add(yield* DateTime.now, { hours: 1 })
        yield* l.store.stallStaleRuns({ heartbeatBefore: ahead, threshold: Duration.seconds(30), limit: 100 })
        assert.strictEqual((yield* jobs.get(job.job_id)).state, "stalled")
        l.state.armedTransaction = true
        const error = yield* Effect.flip(jobs.resume(job.job_id, { actor: "human", reason: "r", handTo: "workers" }))
        assert.strictEqual(l.state.lost, 1)
        assert.strictEqual(error._tag, "StorageError")
        const after = yield* jobs.get(job.job_id)
        assert.strictEqual(after.state, "running", `left to the workers (was ${after.state})`)
        const history = yield* jobs.history(job.job_id)
        assert.isFalse(history.events.some((e) => e.body["from_state"] === "running" && e.body["to_state"] === "queued" && e.body["workflow_run_id"] === after.workflow_run_id), "no release of the offered run")
      }).pipe(Effect.scoped), 60_000)

    it.live("R6 a claimNext inside the store's own transaction whose answer was lost is not looked for", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("claim in own transaction answer lost")
        const l = losing(yield* database.store())
        const jobs = yield* jobsOver(database, l.store)
        // prime the one-statement claim's memo
        const first = yield* jobs.submit(summarize())
        yield* jobs.claimNext()
        yield* jobs.run(first.job_id, () => Effect.succeed({ ok: true }))
        yield* jobs.submit(summarize())
        l.state.armed = true
        const looksBefore = l.state.looks
        const error = yield* Effect.flip(l.store.transaction(jobs.claimNext()))
        assert.strictEqual(l.state.lost, 1, "the claim's answer was lost")
        assert.strictEqual(error._tag, "StorageError")
        assert.strictEqual(l.state.looks - looksBefore, 0, "no look inside the caller's transaction")
      }).pipe(Effect.scoped), 60_000)
  })
}
