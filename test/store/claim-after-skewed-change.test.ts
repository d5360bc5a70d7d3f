/**
 * R6, the Flight Recorder's order under clock skew between hosts: the general
 * claim (`claimNext`, the one a capability policy asked on every claim
 * takes), made by a claimer whose clock is behind the job's last change, was
 * lifted to that change's instant and tied with its record there; its records,
 * built from the claim with ids minted from the claimer's clock behind, sorted
 * first, and the job's history listed `queued → running` before the change
 * it follows. The claim is now written 1 ms after that change's record, as
 * the one-statement claim is (moveInstant.ts), on both stores.
 *
 * The skew is forced: the pin is dated 100 s by the TestClock and its
 * record's id minted a day ahead of this process's real clock, as a host
 * ahead would mint it; the claimer reads 50 s.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import { EventId } from "../../src/domain/Ids.js"
import { uuidv7 } from "../../src/domain/uuidv7.js"
import { JobStore, auditWith } from "../../src/store/JobStore.js"
import type { Backend } from "../support/backend.js"
import { postgres, sqliteFile } from "../support/stores.js"
import { at, idMintedAt, jobEvent, millis, newJob } from "./fixtures.js"

const PIN_MS = 100_000
const CLAIMER_MS = 50_000

for (const backend of [sqliteFile, postgres("claim after skewed change")] as ReadonlyArray<Backend>) {
  describe(`R6 a claim on a clock behind the job's last change, made by a host ahead, on ${backend.name}`, () => {
    it.effect("R6 claimNext: the claim and its records, ids minted behind, are written 1 ms after the pin and listed after it", () =>
      Effect.provide(
        Effect.gen(function*() {
          const store = yield* JobStore
          yield* TestClock.setTime(1_000)
          const job = yield* store.createJob(newJob())
          yield* TestClock.setTime(PIN_MS)
          const pinId = idMintedAt(Date.now() + 86_400_000)
          yield* store.setPinned(job.job_id, true, { events: auditWith([jobEvent(job, { event_id: pinId, timestamp: at(PIN_MS) })]) })
          yield* TestClock.setTime(CLAIMER_MS)
          const claim = yield* store.claimNext({
            // As the general claim builds them: from the claim, at its instant as written.
            events: (claimed) => Effect.succeed([jobEvent(claimed.job, { event_id: EventId.make(uuidv7()), timestamp: claimed.job.updated_at })])
          })
          if (claim === null) return assert.fail("the job is claimed")
          const history = (yield* store.listEvents({ job_id: job.job_id, order: "asc", limit: 20 })).items
          assert.deepStrictEqual(
            history.slice(-2).map((event) => [event.event_id === pinId ? "pin" : "claim", millis(event.timestamp)]),
            [["pin", PIN_MS], ["claim", PIN_MS + 1]],
            "the claim is listed after the pin it follows"
          )
          assert.strictEqual(history[history.length - 1]!.body["timestamp"], DateTime.formatIso(at(PIN_MS + 1)))
          const stored = yield* store.getJob(job.job_id)
          assert.deepStrictEqual([stored.state, millis(stored.updated_at)], ["running", PIN_MS + 1], "the job's updated_at is the claim's")
          const run = yield* store.getRun(claim.run.id)
          assert.deepStrictEqual([millis(run.created_at), millis(run.updated_at)], [PIN_MS + 1, PIN_MS + 1], "the run begins at the claim")
          assert.strictEqual(millis(run.last_heartbeat), CLAIMER_MS, "its first heartbeat the reading as it is")
        }),
        backend.makeStore()
      ), 60_000)
  })
}
