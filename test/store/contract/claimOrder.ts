/**
 * Contract: a claim never comes before the move it follows (R6, the Flight
 * Recorder's order) — the one-statement claim's records and run, the
 * general claim's run, and a running job's one-statement end (a cancel
 * racing the claim). A claimer reads its clock and mints its records' ids
 * before its statement runs; the move that queued the job — here a release
 * (running → queued) — can commit in between, later by the clock. The job's
 * history reads by (timestamp, event_id), so the claim must be written after
 * that move: at its own reading when that is later, else at the job's last
 * change, else 1 ms after the job's latest record.
 *
 * The interleaving is forced, not waited for: the claimer's clock is a clock
 * that reads a given instant (what it read before the release committed),
 * and its event ids are minted before or after the release's, as a claimer
 * racing in this or another process would have them.
 */
import { assert, describe } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import { EventId, WorkflowRunId } from "../../../src/domain/Ids.js"
import { uuidv7 } from "../../../src/domain/uuidv7.js"
import { type ClaimTemplate, JobStore } from "../../../src/store/JobStore.js"
import { at, claimedOn, jobEvent, millis, newJob } from "../fixtures.js"
import { type Backend, storeTest } from "../../support/backend.js"

/** A clock that reads `ms`: a claimer's reading taken before what the test commits next. */
const readingAt = (ms: number): Clock.Clock => ({
  [Clock.ClockTypeId]: Clock.ClockTypeId,
  unsafeCurrentTimeMillis: () => ms,
  currentTimeMillis: Effect.succeed(ms),
  unsafeCurrentTimeNanos: () => BigInt(ms) * 1_000_000n,
  currentTimeNanos: Effect.succeed(BigInt(ms) * 1_000_000n),
  sleep: () => Effect.void
})

const freshId = () => EventId.make(uuidv7())

interface Scenario {
  /** When the claimer read its clock. */
  readonly claimerReads: number
  /** When the release committed (its record's timestamp, the job's updated_at). */
  readonly releasedAt: number
  /** Whether the claim's event ids were minted before the release's (its statement started first). */
  readonly claimIdsFirst: boolean
  /** The instant the claim must be written at. */
  readonly expected: number
}

/** Claims the job released at `releasedAt` with a claimer that read `claimerReads`; checks what is stored. */
const claimAfterRelease = (scenario: Scenario) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const claimAdmitted = store.claimAdmitted
    if (claimAdmitted === undefined) return assert.fail("the store has the one-statement claim")
    const first = yield* claimedOn(store)
    // A template of two records: one about the job, one about its run (the store fills in both).
    const placeholder = { job_id: first.job.job_id, trace_id: first.job.trace_id, workflow_run_id: null }
    const template: ClaimTemplate = {
      job_kind: first.job.job_kind,
      protocol_id: first.job.protocol_id,
      profile_id: first.job.profile_id,
      capability_profile_id: first.job.capability_profile_id,
      records: [
        jobEvent(placeholder, { timestamp: at(0) }),
        jobEvent({ ...placeholder, workflow_run_id: WorkflowRunId.make(uuidv7()) }, { timestamp: at(0) })
      ]
    }
    // The two moves' ids, minted in the scenario's order.
    const claimIds: Array<EventId> = []
    if (scenario.claimIdsFirst) claimIds.push(freshId(), freshId())
    const releaseId = freshId()
    if (!scenario.claimIdsFirst) claimIds.push(freshId(), freshId())
    yield* TestClock.setTime(scenario.releasedAt)
    yield* store.releaseRun(first.run.id, {
      reason: "handed back",
      events: () => [jobEvent(first.job, { event_id: releaseId, timestamp: at(scenario.releasedAt) })]
    })

    const claimed = yield* Effect.withClock(claimAdmitted({ templates: [template], event_ids: claimIds }), readingAt(scenario.claimerReads))
    if (claimed?._tag !== "Claimed") return assert.fail(`claimed, got ${JSON.stringify(claimed)}`)
    const { job, run } = claimed.claim
    const expected = scenario.expected
    assert.strictEqual(millis(job.updated_at), expected, "the job's updated_at")
    assert.strictEqual(millis(run.created_at), expected, "the run's start")
    // Liveness: the claimer's reading as it is, never lifted to the release's instant.
    assert.strictEqual(millis(run.last_heartbeat), scenario.claimerReads, "the run's first heartbeat")
    // What is stored is what the claim returned.
    assert.strictEqual(millis((yield* store.getJob(job.job_id)).updated_at), expected)
    assert.strictEqual(millis((yield* store.getRun(run.id)).created_at), expected)
    assert.strictEqual(millis((yield* store.getRun(run.id)).last_heartbeat), scenario.claimerReads)

    // The job's history: the first claim, the release, then this claim's records — in that order.
    const history = (yield* store.listEvents({ job_id: job.job_id, order: "asc", limit: 100 })).items
    assert.deepStrictEqual(history.map((event) => event.event_id).slice(-3), [releaseId, ...claimIds])
    for (const record of history.slice(-2)) {
      assert.strictEqual(millis(record.timestamp), expected, "a claim record's timestamp")
      assert.strictEqual(record.body["timestamp"], DateTime.formatIso(at(expected)), "a claim record's body timestamp")
    }
  })

/** claimNext by a claimer that read `claimerReads`, of the job released at 5,000: the run starts at `expected`. */
const claimNextAfterRelease = (claimerReads: number, expected: number) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const first = yield* claimedOn(store)
    yield* TestClock.setTime(5_000)
    yield* store.releaseRun(first.run.id, { reason: "handed back" })
    const claim = yield* Effect.withClock(store.claimNext(), readingAt(claimerReads))
    if (claim === null) return assert.fail("claimed")
    assert.strictEqual(millis(claim.job.updated_at), expected, "the job's updated_at")
    assert.strictEqual(millis(claim.run.created_at), expected, "the run's start")
    assert.strictEqual(millis(claim.run.last_heartbeat), claimerReads, "the run's first heartbeat: the reading as it is")
    assert.strictEqual(millis((yield* store.getJob(claim.job.job_id)).updated_at), expected)
    assert.strictEqual(millis((yield* store.getRun(claim.run.id)).created_at), expected)
    assert.strictEqual(millis((yield* store.getRun(claim.run.id)).last_heartbeat), claimerReads)
    // The released run ended before this one started.
    assert.isAtMost(millis((yield* store.getRun(first.run.id)).updated_at), expected)
  })

/**
 * A running job's end (finishRunningJob: an operator's cancel) whose record was built — its
 * clock read, its id minted — before the claim it follows committed at 5,000.
 */
const endAfterClaim = (scenario: { readonly endReads: number; readonly endIdFirst: boolean; readonly expected: number }) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const finishRunningJob = store.finishRunningJob
    if (finishRunningJob === undefined) return assert.fail("the store has the one-statement end")
    yield* TestClock.setTime(1_000)
    const created = yield* store.createJob(newJob())
    const early = scenario.endIdFirst ? freshId() : undefined
    const claimId = freshId()
    const endId = early ?? freshId()
    yield* TestClock.setTime(5_000)
    const claim = yield* store.claimNext({ events: (claimed) => [jobEvent(claimed.job, { event_id: claimId, timestamp: at(5_000) })] })
    if (claim === null) return assert.fail("claimed")
    const record = jobEvent(created, { event_id: endId, timestamp: at(scenario.endReads) })
    const ended = yield* finishRunningJob({ job_id: created.job_id, to: "cancelled", status_reason: "stopped", event: record })
    if (ended === null) return assert.fail("the running job ended")
    const expected = scenario.expected
    assert.strictEqual(ended.state, "cancelled")
    assert.strictEqual(millis(ended.updated_at), expected, "the job's updated_at")
    assert.strictEqual(millis((yield* store.getJob(created.job_id)).updated_at), expected)
    assert.strictEqual(millis((yield* store.getRun(claim.run.id)).updated_at), expected, "the run's end")
    const history = (yield* store.listEvents({ job_id: created.job_id, order: "asc", limit: 100 })).items
    assert.deepStrictEqual(history.map((event) => event.event_id), [claimId, endId])
    assert.strictEqual(millis(history[1]!.timestamp), expected, "the end's record")
    assert.strictEqual(history[1]!.body["timestamp"], DateTime.formatIso(at(expected)), "the end's record body")
  })

/** claimAdmitted's instant, against a move that committed after the claimer read its clock. */
export const claimOrderContract = (backend: Backend): void => {
  const test = storeTest(backend)

  describe("claimAdmitted after a release it raced", () => {
    test("R6 a claimer that read its clock before the release claims after it: at the release's instant when its ids sort after the release's", () =>
      claimAfterRelease({ claimerReads: 3_000, releasedAt: 5_000, claimIdsFirst: false, expected: 5_000 }))

    test("R6 a claimer that read its clock and minted its ids before the release claims 1 ms after the release's record", () =>
      claimAfterRelease({ claimerReads: 3_000, releasedAt: 5_000, claimIdsFirst: true, expected: 5_001 }))

    test("R6 a claimer that read the release's own millisecond, its ids minted first, claims 1 ms after", () =>
      claimAfterRelease({ claimerReads: 5_000, releasedAt: 5_000, claimIdsFirst: true, expected: 5_001 }))

    test("R6 a claim in the release's own millisecond whose ids sort after the release's keeps its reading", () =>
      claimAfterRelease({ claimerReads: 5_000, releasedAt: 5_000, claimIdsFirst: false, expected: 5_000 }))

    test("R6 a claimer that read its clock after the release keeps its reading", () =>
      claimAfterRelease({ claimerReads: 6_000, releasedAt: 5_000, claimIdsFirst: true, expected: 6_000 }))
  })

  describe("finishRunningJob after a claim it raced", () => {
    test("R6 an end whose record was built before the claim committed, its id first, is written 1 ms after the claim", () =>
      endAfterClaim({ endReads: 3_000, endIdFirst: true, expected: 5_001 }))

    test("R6 an end whose record was built before the claim committed, its id after the claim's, is written at the claim's instant", () =>
      endAfterClaim({ endReads: 3_000, endIdFirst: false, expected: 5_000 }))

    test("R6 an end that read its clock after the claim keeps its reading", () =>
      endAfterClaim({ endReads: 6_000, endIdFirst: true, expected: 6_000 }))
  })

  describe("claimNext after a release it raced", () => {
    test("R6 a claimer that read its clock before the release starts its run at the release's instant", () =>
      claimNextAfterRelease(3_000, 5_000))

    test("R6 a claimer that read its clock after the release starts its run at its reading", () =>
      claimNextAfterRelease(6_000, 6_000))
  })
}
