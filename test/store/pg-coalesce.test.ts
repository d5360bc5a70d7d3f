/**
 * Issue 16 (group commit on PostgreSQL): concurrent workers' claims,
 * heartbeats and completions share statements, and every caller still gets
 * exactly its own result.
 *
 * The interleaving is forced, not hoped for: another session holds
 * `workflow_runs` in EXCLUSIVE mode, so the first calls of a kind (as many
 * as the statements the store lets be in flight, `SLOTS`) block on it — seen blocked in
 * `pg_stat_activity` — while the racers, released together by a gate, line
 * up behind them. When the lock goes, the first statement to end hands its
 * slot to the line, whose one statement serves every racer. Every query the
 * real `pg` driver sends is counted (its `Client.prototype.query` wrapped).
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import type * as Either from "effect/Either"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { createRequire } from "node:module"
import type { AiJob } from "../../src/domain/AiJob.js"
import { Jobs } from "../../src/Jobs.js"
import { JobStore, type RunningJobEnd, type RunSettle } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { SLOTS } from "../../src/store/pg/coalesced.js"
import { services } from "../jobs/services.js"
import { connectPg, freshPgDatabase } from "../support/pg-database.js"
import { holdTable as holdTableIn, holding } from "../support/tableHold.js"
import { eventRecord, ids, newJob, startedJob, tagOf } from "./fixtures.js"

type Query = (this: object, ...args: Array<unknown>) => unknown
const pg = createRequire(import.meta.url)("pg") as { readonly Client: { readonly prototype: { query: Query } } }

/** What a statement is, by its text. */
const STATEMENTS = {
  create: /INSERT INTO ai_jobs/,
  claim: /INSERT INTO workflow_runs/,
  heartbeat: /SET last_heartbeat/,
  complete: /UPDATE workflow_runs r SET status/,
  /** A complete serving several callers. */
  completeBatch: /WITH ends AS/
} as const
type Kind = keyof typeof STATEMENTS

/** Counts, by kind, the statements `pg` sends while `effect` runs. */
const countingStatements = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const proto = pg.Client.prototype
      const original = proto.query
      const counts: Record<Kind, number> = { create: 0, claim: 0, heartbeat: 0, complete: 0, completeBatch: 0 }
      proto.query = function(this: object, ...args: Array<unknown>) {
        const [config] = args
        const text = typeof config === "string" ? config : String((config as { readonly text?: unknown } | null)?.text ?? "")
        for (const kind of Object.keys(STATEMENTS) as Array<Kind>) if (STATEMENTS[kind].test(text)) counts[kind]++
        return original.apply(this, args)
      }
      return { proto, original, counts }
    }),
    ({ counts }) => Effect.map(effect, (value) => ({ value, counts })),
    ({ original, proto }) => Effect.sync(() => {
      proto.query = original
    })
  )

/**
 * Another session holding `table` in EXCLUSIVE mode (every claim, heartbeat
 * and complete writes `workflow_runs`, every create with records
 * `flight_recorder_events`, so each blocks), released by `release` or at the
 * end of the scope.
 */
const holdTable = (url: string, table = "workflow_runs") => holdTableIn(url, table)

/** Another session holding one run's row (as a writer of it would), released as `holdTable`'s lock is. */
const holdRun = (url: string, runId: string) => holding(url, [`SELECT 1 FROM workflow_runs WHERE id = '${runId}' FOR UPDATE`], `run ${runId}'s row`)

/**
 * The forced interleaving: `blockers` take every statement slot of their kind
 * and block on the held table; then the racers, forked waiting on one gate,
 * are released together and line up (they run no statement: every slot is
 * busy); then the table is released. Returns the blockers' and racers' outcomes.
 */
const raceBehindBlockers = <A, E, R>(
  url: string,
  blockers: ReadonlyArray<Effect.Effect<A, E, R>>,
  racers: ReadonlyArray<Effect.Effect<A, E, R>>,
  table?: string
) =>
  Effect.scoped(Effect.gen(function*() {
    const held = yield* holdTable(url, table)
    const blocking = yield* Effect.forEach(blockers, (blocker) => Effect.fork(Effect.either(blocker)))
    yield* held.blockedBy(blockers.length)
    const gate = yield* Deferred.make<void>()
    const racing = yield* Effect.forEach(racers, (racer) => Effect.fork(Effect.zipRight(Deferred.await(gate), Effect.either(racer))))
    yield* Deferred.succeed(gate, undefined)
    // The racers need only the CPU to join the line; give them the event loop, then let the table go.
    yield* Effect.sleep("100 millis")
    yield* held.release
    return { blockers: yield* Fiber.joinAll(blocking), racers: yield* Fiber.joinAll(racing) }
  }))

/** A store (and Jobs over it) on a fresh database. */
const withStore = <A, E>(label: string, coalesce: boolean, body: (url: string) => Effect.Effect<A, E, JobStore | Jobs | Scope.Scope>) =>
  Effect.gen(function*() {
    const url = yield* freshPgDatabase(label)
    const context = yield* Layer.build(services(PgStore.layer({ url, coalesce })))
    return yield* Effect.provide(body(url), context)
  })

/** A completion of the running `job`, with its lifecycle record (placeholders the store fills). */
const completion = (job: AiJob, overrides: Partial<RunningJobEnd> = {}): RunningJobEnd => ({
  job_id: job.job_id,
  to: "completed",
  event: eventRecord({ job_id: job.job_id, trace_id: job.trace_id, workflow_run_id: job.workflow_run_id }),
  ...overrides
})

/** `record` under `eventId`: its body names the id too, as every stored body does (else the store refuses it before the database). */
const withEventId = (record: RunningJobEnd["event"], eventId: RunningJobEnd["event"]["event_id"]): RunningJobEnd["event"] => ({
  ...record,
  event_id: eventId,
  body: { ...record.body, event_id: eventId }
})

const RACERS = 22

/**
 * Each create's outcome is its own: its job queued with its own record once;
 * the one of a taken id (`taken`) `AlreadyExists`, and no record written for
 * the job that holds the id.
 */
const ownCreates = (
  outcomes: ReadonlyArray<Either.Either<AiJob, unknown>>,
  inputs: ReadonlyArray<{ readonly job_id?: string }>,
  records: ReadonlyArray<{ readonly event_id: string }>,
  taken: number,
  existingId: AiJob["job_id"]
) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    for (const [i, outcome] of outcomes.entries()) {
      if (i === taken) {
        assert.strictEqual(outcome._tag, "Left")
        if (outcome._tag === "Left") assert.strictEqual(tagOf(outcome.left), "AlreadyExists")
        continue
      }
      assert.strictEqual(outcome._tag, "Right")
      if (outcome._tag !== "Right") continue
      const jobId = outcome.right.job_id
      assert.strictEqual(jobId, inputs[i]!.job_id)
      assert.strictEqual((yield* store.getJob(jobId)).state, "queued")
      const events = yield* store.listEvents({ job_id: jobId })
      assert.deepStrictEqual(events.items.map((event) => event.event_id), [records[i]!.event_id], "its own record, once")
    }
    assert.strictEqual((yield* store.listEvents({ job_id: existingId })).items.length, 0, "the taken id's record was not written")
  })

/**
 * `count` queued jobs of one subject, claims of which take the one-statement
 * path: the first claim of a subject meets the policy, so one is claimed first.
 */
const queuedForClaims = (count: number) =>
  Effect.gen(function*() {
    const jobs = yield* Jobs
    const store = yield* JobStore
    yield* jobs.submit(newJob())
    const first = yield* jobs.claimNext()
    yield* jobs.complete(first!.job.job_id)
    const submitted = yield* Effect.forEach(Array.from({ length: count }), () => jobs.submit(newJob()))
    return { jobs, store, submitted }
  })

describe("issue 16 group commit on PostgreSQL", () => {
  it.scopedLive(
    `issue 16 ${RACERS} concurrent completes share one statement (${RACERS + SLOTS} callers, ${SLOTS + 1} statements) and each caller gets its own job, completed with its own record`,
    () =>
      withStore("coalesce complete", true, (url) =>
        Effect.gen(function*() {
          const store = yield* JobStore
          const started = yield* Effect.forEach(Array.from({ length: RACERS + SLOTS }), () => startedJob())
          const ends = started.map(({ job }) => completion(job))
          const { counts, value } = yield* countingStatements(raceBehindBlockers(
            url,
            ends.slice(0, SLOTS).map((end) => store.finishRunningJob!(end)),
            ends.slice(SLOTS).map((end) => store.finishRunningJob!(end))
          ))
          const outcomes = [...value.blockers, ...value.racers]
          outcomes.forEach((outcome, i) => {
            assert.strictEqual(outcome._tag, "Right")
            if (outcome._tag !== "Right") return
            assert.strictEqual(outcome.right?.job_id, started[i]!.job.job_id, "each caller gets its own job")
            assert.strictEqual(outcome.right?.state, "completed")
          })
          assert.strictEqual(counts.complete, SLOTS + 1, "the blocked ones alone, then one for the whole line")
          assert.strictEqual(counts.completeBatch, 1)
          for (const [i, { job, run }] of started.entries()) {
            assert.strictEqual((yield* store.getRun(run.id)).status, "completed", "its run ended with it")
            const events = yield* store.listEvents({ job_id: job.job_id })
            assert.deepStrictEqual(events.items.map((event) => event.event_id), [ends[i]!.event.event_id], "its own record, once")
            assert.strictEqual(events.items[0]!.workflow_run_id, run.id)
          }
        })),
    60_000
  )

  it.scopedLive(
    `issue 16 ${RACERS} concurrent settles share one statement, each guarded on its own run: a settle whose run was released is refused with RunNotActive and writes nothing, the others settle with their outputs and duration`,
    () =>
      withStore("coalesce settle", true, (url) =>
        Effect.gen(function*() {
          const store = yield* JobStore
          const started = yield* Effect.forEach(Array.from({ length: RACERS + SLOTS }), () => startedJob())
          // Every third racer's run was handed back (released) and its job claimed again under a new run.
          const lost = new Set(started.filter((_, i) => i >= SLOTS && i % 3 === 0).map(({ job }) => job.job_id as string))
          for (const { run } of started.filter(({ job }) => lost.has(job.job_id))) yield* store.releaseRun(run.id, { reason: "released" })
          const settles = started.map(({ job, run }, i): RunSettle => ({
            ...completion(job),
            workflow_run_id: run.id,
            error_message: null,
            job_outputs: { i },
            duration_ms: 100 + i
          }))
          const { counts, value } = yield* countingStatements(raceBehindBlockers(
            url,
            settles.slice(0, SLOTS).map((settle) => store.settleRun!(settle)),
            settles.slice(SLOTS).map((settle) => store.settleRun!(settle))
          ))
          const outcomes = [...value.blockers, ...value.racers]
          assert.strictEqual(counts.completeBatch, 1, "the line's settles share one statement")
          for (const [i, { job, run }] of started.entries()) {
            const outcome = outcomes[i]!
            const events = (yield* store.listEvents({ job_id: job.job_id })).items.map((event) => event.event_id)
            if (lost.has(job.job_id)) {
              assert.strictEqual(outcome._tag === "Left" ? outcome.left._tag : "settled", "RunNotActive")
              const stored = yield* store.getJob(job.job_id)
              assert.deepStrictEqual([stored.state, stored.job_outputs, stored.metrics.duration_ms], ["queued", null, 0], "nothing written")
              assert.notInclude(events, settles[i]!.event.event_id)
              continue
            }
            assert.strictEqual(outcome._tag === "Right" ? outcome.right.state : outcome.left._tag, "completed")
            const stored = yield* store.getJob(job.job_id)
            assert.deepStrictEqual([stored.state, stored.job_outputs, stored.metrics.duration_ms], ["completed", { i }, 100 + i])
            assert.strictEqual((yield* store.getRun(run.id)).status, "completed")
            assert.deepStrictEqual(events, [settles[i]!.event.event_id], "its own record, once")
          }
        })),
    60_000
  )

  it.scopedLive(
    "issue 16 with coalesce off the same race sends one complete statement per caller (what the counts above are measured against)",
    () =>
      withStore("coalesce off", false, (url) =>
        Effect.gen(function*() {
          const store = yield* JobStore
          const started = yield* Effect.forEach(Array.from({ length: 8 }), () => startedJob())
          const ends = started.map(({ job }) => completion(job))
          const { counts, value } = yield* countingStatements(raceBehindBlockers(
            url,
            ends.slice(0, SLOTS).map((end) => store.finishRunningJob!(end)),
            ends.slice(SLOTS).map((end) => store.finishRunningJob!(end))
          ))
          assert.strictEqual(counts.complete, 8)
          assert.strictEqual(counts.completeBatch, 0)
          for (const outcome of [...value.blockers, ...value.racers]) assert.strictEqual(outcome._tag, "Right")
        })),
    60_000
  )

  it.scopedLive(
    "issue 16 exactly-once claims under coalescing: 32 racing claimers of 24 jobs share statements, each job is claimed once, none is lost",
    () =>
      withStore("coalesce claim", true, (url) =>
        Effect.gen(function*() {
          const { jobs, store, submitted } = yield* queuedForClaims(24)
          const { counts, value } = yield* countingStatements(raceBehindBlockers(
            url,
            Array.from({ length: SLOTS }, () => jobs.claimNext()),
            Array.from({ length: 32 - SLOTS }, () => jobs.claimNext())
          ))
          const claims = [...value.blockers, ...value.racers].map((outcome) => {
            assert.strictEqual(outcome._tag, "Right")
            return outcome._tag === "Right" ? outcome.right : null
          })
          const claimed = claims.flatMap((claim) => claim === null ? [] : [claim])
          assert.strictEqual(claimed.length, 24, "every job claimed; the 8 claimers too many get null")
          assert.deepStrictEqual(
            new Set(claimed.map((claim) => claim.job.job_id)),
            new Set(submitted.map((job) => job.job_id)),
            "no job claimed twice, none lost"
          )
          assert.strictEqual(new Set(claimed.map((claim) => claim.run.id)).size, 24)
          assert.isBelow(counts.claim, 32, "the line shared statements")
          assert.strictEqual(counts.claim, SLOTS + 1, "the blocked ones alone, then one for the whole line")
          for (const claim of claimed) {
            const job = yield* store.getJob(claim.job.job_id)
            assert.strictEqual(job.state, "running")
            assert.strictEqual(job.workflow_run_id, claim.run.id, "the job runs under the run its claimer got")
            const runs = yield* store.listRuns(claim.job.job_id)
            assert.deepStrictEqual(runs.map((run) => run.id), [claim.run.id], "one run per job")
            const running = yield* store.listEvents({ job_id: claim.job.job_id, workflow_run_id: claim.run.id })
            assert.isAbove(running.items.length, 0, "its claim's records, with its run")
          }
        })),
    60_000
  )

  it.scopedLive(
    "R6 a claimed row that does not decode fails its own claimer's claim alone in a shared statement: that job fails with its run, every other claimer keeps the job it claimed, none is left running unclaimed",
    () =>
      withStore("coalesce unreadable claim", true, (url) =>
        Effect.gen(function*() {
          const { jobs, store, submitted } = yield* queuedForClaims(13)
          // A job the line's statement claims (not the blocker's): its inputs stored by another tool, refused by the Schema.
          const broken = submitted[SLOTS + 3]!
          const client = yield* Effect.acquireRelease(Effect.promise(() => connectPg(url)), (c) => Effect.promise(() => c.end()))
          yield* Effect.promise(() => client.query(`UPDATE ai_jobs SET job_inputs = '{"__proto__": 1}' WHERE id = $1`, [broken.job_id]))
          const { counts, value } = yield* countingStatements(raceBehindBlockers(
            url,
            Array.from({ length: SLOTS }, () => jobs.claimNext()),
            Array.from({ length: 12 - SLOTS }, () => jobs.claimNext())
          ))
          const claimed = [...value.blockers, ...value.racers].map((outcome) => {
            assert.strictEqual(outcome._tag, "Right", "every claimer gets a job, the broken job's claimer the next one")
            return outcome._tag === "Right" ? outcome.right : null
          }).flatMap((claim) => claim === null ? [] : [claim])
          assert.strictEqual(counts.claim, SLOTS + 2, "the blocked ones alone, one for the whole line, then the broken job's claimer alone")
          const readable = submitted.filter((job) => job.job_id !== broken.job_id)
          assert.deepStrictEqual(new Set(claimed.map((claim) => claim.job.job_id)), new Set(readable.map((job) => job.job_id)))
          for (const claim of claimed) {
            const job = yield* store.getJob(claim.job.job_id)
            assert.deepStrictEqual([job.state, job.workflow_run_id], ["running", claim.run.id], "the job runs under the run its claimer got")
          }
          const { rows } = yield* Effect.promise(() =>
            client.query<{ readonly status: string; readonly error_message: string }>(
              "SELECT status, error_message FROM ai_jobs WHERE id = $1",
              [broken.job_id]
            )
          )
          assert.strictEqual(rows[0]?.status, "failed")
          assert.include(rows[0]?.error_message, "column job_inputs")
        })),
    60_000
  )

  it.scopedLive(
    "issue 16 a shared statement with one bad member (a taken event id): that caller gets its own StorageError and nothing of its end is written; the others complete",
    () =>
      withStore("coalesce bad member", true, (url) =>
        Effect.gen(function*() {
          const store = yield* JobStore
          const started = yield* Effect.forEach(Array.from({ length: 10 }), () => startedJob())
          const taken = eventRecord()
          yield* store.appendEvents([taken])
          const ends = started.map(({ job }, i) =>
            i === 5 ? completion(job, { event: withEventId(completion(job).event, taken.event_id) }) : completion(job)
          )
          const { counts, value } = yield* countingStatements(raceBehindBlockers(
            url,
            ends.slice(0, SLOTS).map((end) => store.finishRunningJob!(end)),
            ends.slice(SLOTS).map((end) => store.finishRunningJob!(end))
          ))
          assert.strictEqual(counts.completeBatch, 1, "the line went into one statement, which failed")
          const outcomes = [...value.blockers, ...value.racers]
          for (const [i, outcome] of outcomes.entries()) {
            const { job, run } = started[i]!
            if (i === 5) {
              assert.strictEqual(outcome._tag, "Left")
              if (outcome._tag === "Left") assert.strictEqual(tagOf(outcome.left), "StorageError")
              assert.strictEqual((yield* store.getJob(job.job_id)).state, "running", "nothing of it written")
              assert.strictEqual((yield* store.getRun(run.id)).status, "running")
            } else {
              assert.strictEqual(outcome._tag, "Right")
              if (outcome._tag === "Right") assert.strictEqual(outcome.right?.job_id, job.job_id)
              assert.strictEqual((yield* store.getJob(job.job_id)).state, "completed")
            }
          }
        })),
    60_000
  )

  it.scopedLive(
    "issue 16 complete's guard holds in a shared statement: a job cancelled between its claim and its complete is refused (null) alone, the others complete",
    () =>
      withStore("coalesce guard", true, (url) =>
        Effect.gen(function*() {
          const store = yield* JobStore
          const started = yield* Effect.forEach(Array.from({ length: 10 }), () => startedJob())
          const cancelled = started[6]!.job
          yield* store.transition({ job_id: cancelled.job_id, from: "running", to: "cancelled" })
          const ends = started.map(({ job }) => completion(job))
          const { counts, value } = yield* countingStatements(raceBehindBlockers(
            url,
            ends.slice(0, SLOTS).map((end) => store.finishRunningJob!(end)),
            ends.slice(SLOTS).map((end) => store.finishRunningJob!(end))
          ))
          assert.strictEqual(counts.completeBatch, 1)
          for (const [i, outcome] of [...value.blockers, ...value.racers].entries()) {
            assert.strictEqual(outcome._tag, "Right")
            if (outcome._tag !== "Right") continue
            if (i === 6) assert.isNull(outcome.right, "not running: the caller takes the general path")
            else assert.strictEqual(outcome.right?.state, "completed")
          }
          assert.strictEqual((yield* store.getJob(cancelled.job_id)).state, "cancelled", "never overwritten")
          const records = yield* store.listEvents({ job_id: cancelled.job_id })
          assert.strictEqual(records.items.length, 0, "no record of a move that did not happen")
        })),
    60_000
  )

  it.scopedLive(
    "issue 16 a job another transaction holds does not hold up a shared statement: every other caller has its result while its caller waits alone, then it completes too",
    () =>
      withStore("coalesce row lock", true, (url) =>
        Effect.gen(function*() {
          const store = yield* JobStore
          const started = yield* Effect.forEach(Array.from({ length: 10 }), () => startedJob())
          const held = started[5]!.job
          const rowHolder = yield* Effect.acquireRelease(
            Effect.promise(async () => {
              const client = await connectPg(url)
              await client.query("BEGIN")
              await client.query("SELECT id FROM ai_jobs WHERE id = $1 FOR NO KEY UPDATE", [held.job_id])
              return client
            }),
            (client) => Effect.promise(() => client.query("ROLLBACK").catch(() => undefined).then(() => client.end()))
          )
          // The held job's lock goes only once every other caller has its result: a shared
          // statement (or a line) that waited for it would never end, and this test would time out.
          const answered = new Set<string>()
          const others = started.filter(({ job }) => job.job_id !== held.job_id)
          const releaser = yield* Effect.fork(Effect.gen(function*() {
            while (!others.every(({ job }) => answered.has(job.job_id))) yield* Effect.sleep("20 millis")
            yield* Effect.promise(() => rowHolder.query("COMMIT"))
          }))
          const finish = (job: AiJob) =>
            Effect.tap(store.finishRunningJob!(completion(job)), () => Effect.sync(() => answered.add(job.job_id)))
          const { counts, value } = yield* countingStatements(raceBehindBlockers(
            url,
            started.slice(0, SLOTS).map(({ job }) => finish(job)),
            started.slice(SLOTS).map(({ job }) => finish(job))
          ))
          yield* Fiber.join(releaser)
          assert.strictEqual(counts.completeBatch, 1)
          for (const [i, outcome] of [...value.blockers, ...value.racers].entries()) {
            assert.strictEqual(outcome._tag, "Right")
            if (outcome._tag === "Right") assert.strictEqual(outcome.right?.job_id, started[i]!.job.job_id)
          }
          assert.strictEqual((yield* store.getJob(held.job_id)).state, "completed")
        })),
    60_000
  )

  it.scopedLive(
    "issue 16 interrupting callers of a shared statement loses nobody's end: the interrupted leader's end is written whole and it still serves its line, an interrupted member still in line is withdrawn whole (f137: nothing of it sent, its job as before), every other caller gets its own job",
    () =>
      withStore("coalesce interrupt", true, (url) =>
        Effect.scoped(Effect.gen(function*() {
          const store = yield* JobStore
          const started = yield* Effect.forEach(Array.from({ length: 12 }), () => startedJob())
          const ends = started.map(({ job }) => completion(job))
          const held = yield* holdTable(url)
          const leader = yield* Effect.fork(store.finishRunningJob!(ends[0]!))
          yield* held.blockedBy(1)
          const members = yield* Effect.forEach(ends.slice(1), (end) => Effect.fork(store.finishRunningJob!(end)))
          yield* Effect.sleep("100 millis")
          // Interrupts asked while the leader's statement is blocked and the members wait in line: the first
          // in line, the one the slot would pass to, is withdrawn, so the next one leads the line's statement.
          const interrupting = yield* Effect.forEach([leader, members[0]!, members[3]!], (fiber) => Effect.fork(Fiber.interrupt(fiber)))
          yield* Effect.sleep("50 millis")
          yield* held.release
          yield* Fiber.joinAll(interrupting)
          const withdrawn = new Set([0, 3])
          for (const [i, member] of members.entries()) {
            const exit = yield* Fiber.await(member)
            if (withdrawn.has(i)) {
              assert.isTrue(Exit.isInterrupted(exit), `member ${i}, interrupted in line, fails interrupted`)
              continue
            }
            assert.isTrue(exit._tag === "Success", `member ${i} gets its result`)
            if (exit._tag === "Success") assert.strictEqual(exit.value?.job_id, started[i + 1]!.job.job_id)
          }
          for (const [i, { job, run }] of started.entries()) {
            // The leader's statement was sent: its end is written, whatever the interrupt.
            const ended = !withdrawn.has(i - 1)
            assert.strictEqual((yield* store.getJob(job.job_id)).state, ended ? "completed" : "running", `job ${i}: every end sent written, none withdrawn`)
            assert.strictEqual((yield* store.getRun(run.id)).status, ended ? "completed" : "running")
            assert.strictEqual((yield* store.listEvents({ job_id: job.job_id })).items.length, ended ? 1 : 0)
          }
        }))),
    60_000
  )

  it.scopedLive(
    "issue 16 concurrent submits share a statement: each caller gets its own job with its own records; a taken job id gets AlreadyExists alone and changes nothing",
    () =>
      withStore("coalesce create", true, (url) =>
        Effect.gen(function*() {
          const store = yield* JobStore
          const existing = yield* store.createJob(newJob())
          const inputs = Array.from({ length: 16 }, (_, i) => newJob({ job_id: i === 7 ? existing.job_id : ids.job(), trace_id: ids.trace() }))
          const records = inputs.map((input) => eventRecord({ job_id: input.job_id!, trace_id: input.trace_id! }))
          const create = (i: number) => store.createJob(inputs[i]!, { events: () => [records[i]!] })
          // A create writes no run: its blockers are held by a lock on the events table instead.
          const { counts, value } = yield* countingStatements(raceBehindBlockers(
            url,
            Array.from({ length: SLOTS }, (_, i) => create(i)),
            inputs.slice(SLOTS).map((_, i) => create(i + SLOTS)),
            "flight_recorder_events"
          ))
          assert.strictEqual(counts.create, SLOTS + 2, "the blocked ones alone, one for the line, then the taken id's alone to say so")
          yield* ownCreates([...value.blockers, ...value.racers], inputs, records, 7, existing.job_id)
        })),
    60_000
  )

  it.scopedLive(
    "issue 16 concurrent creates sharing a statement each create their job at their own given instant (Creation.at: their submit's), not at the statement's",
    () =>
      withStore("coalesce create at", true, (url) =>
        Effect.gen(function*() {
          const store = yield* JobStore
          const inputs = Array.from({ length: 12 }, () => newJob({ job_id: ids.job(), trace_id: ids.trace() }))
          // Instants years apart from the clock and from each other: only the caller's own can be written.
          const ats = inputs.map((_, i) => DateTime.unsafeMake(Date.UTC(2031, 0, 1 + i, 12)))
          const create = (i: number) => store.createJob(inputs[i]!, { at: ats[i]! })
          const { counts, value } = yield* countingStatements(raceBehindBlockers(
            url,
            Array.from({ length: SLOTS }, (_, i) => create(i)),
            inputs.slice(SLOTS).map((_, i) => create(i + SLOTS)),
            "ai_jobs"
          ))
          assert.strictEqual(counts.create, SLOTS + 1, "the blocked ones alone, then one statement for the whole line")
          for (const [i, outcome] of [...value.blockers, ...value.racers].entries()) {
            assert.strictEqual(outcome._tag, "Right")
            if (outcome._tag !== "Right") continue
            const want = Array(3).fill(DateTime.formatIso(ats[i]!))
            assert.deepStrictEqual([outcome.right.created_at, outcome.right.updated_at, outcome.right.run_after].map(DateTime.formatIso), want, `answer ${i}`)
            const stored = yield* store.getJob(outcome.right.job_id)
            assert.deepStrictEqual([stored.created_at, stored.updated_at, stored.run_after].map(DateTime.formatIso), want, `stored ${i}`)
          }
        })),
    60_000
  )

  it.scopedLive(
    "issue 16 concurrent heartbeats share a statement; a run no longer active gets its own RunNotActive, the others are beaten",
    () =>
      withStore("coalesce heartbeat", true, (url) =>
        Effect.gen(function*() {
          const store = yield* JobStore
          const started = yield* Effect.forEach(Array.from({ length: 16 }), () => startedJob())
          const ended = started[9]!
          yield* store.finishRunningJob!(completion(ended.job))
          const { counts, value } = yield* countingStatements(raceBehindBlockers(
            url,
            started.slice(0, SLOTS).map(({ run }) => store.heartbeat(run.id)),
            started.slice(SLOTS).map(({ run }) => store.heartbeat(run.id))
          ))
          assert.strictEqual(counts.heartbeat, SLOTS + 2, "the blocked ones alone, one for the line, then the ended run's alone to say why")
          for (const [i, outcome] of [...value.blockers, ...value.racers].entries()) {
            const { run } = started[i]!
            if (i === 9) {
              assert.strictEqual(outcome._tag, "Left")
              if (outcome._tag === "Left") assert.strictEqual(tagOf(outcome.left), "RunNotActive")
            } else {
              assert.strictEqual(outcome._tag, "Right")
              if (outcome._tag === "Right") {
                assert.strictEqual(outcome.right.id, run.id)
                assert.isTrue(outcome.right.last_heartbeat.epochMillis > run.last_heartbeat.epochMillis, "beaten")
              }
            }
          }
        })),
    60_000
  )
  /**
   * `count` creates (the `taken` one of an id already stored) released
   * together by one gate — their calls made in one event-loop turn — with a
   * heartbeat blocked in flight when `withHeartbeat`: the statements they
   * sent, their outcomes, and their inputs and records.
   */
  const createsInOneTurn = (url: string, count: number, taken: number, withHeartbeat: boolean) =>
    Effect.scoped(Effect.gen(function*() {
      const store = yield* JobStore
      const { run } = yield* startedJob()
      const existing = yield* store.createJob(newJob())
      const inputs = Array.from({ length: count }, (_, i) => newJob({ job_id: i === taken ? existing.job_id : ids.job(), trace_id: ids.trace() }))
      const records = inputs.map((input) => eventRecord({ job_id: input.job_id!, trace_id: input.trace_id! }))
      // The run's row only: the creates write no run, and must not wait.
      const held = yield* holdRun(url, run.id)
      const heartbeat = withHeartbeat ? yield* Effect.fork(store.heartbeat(run.id)) : undefined
      if (withHeartbeat) yield* held.blockedBy(1)
      const { counts, value } = yield* countingStatements(Effect.gen(function*() {
        const gate = yield* Deferred.make<void>()
        const creates = yield* Effect.forEach(inputs, (input, i) =>
          Effect.fork(Effect.zipRight(Deferred.await(gate), Effect.either(store.createJob(input, { events: () => [records[i]!] })))))
        yield* Deferred.succeed(gate, undefined)
        return yield* Fiber.joinAll(creates)
      }))
      yield* held.release
      if (heartbeat !== undefined) assert.strictEqual((yield* Fiber.join(heartbeat)).id, run.id, "the blocked heartbeat beats its run")
      return { counts, outcomes: value, inputs, records, existing }
    }))

  it.scopedLive(
    "issue 16 group commit at a few workers: creates called in one event-loop turn while another kind's statement is in flight share one statement (the first waits that turn for them); each caller gets its own job and record, a taken job id gets AlreadyExists alone and nothing of it is written",
    () =>
      withStore("coalesce one turn", true, (url) =>
        Effect.gen(function*() {
          const { counts, existing, inputs, outcomes, records } = yield* createsInOneTurn(url, 6, 4, true)
          // Before: the first ran alone at once and the others shared the next statement (3 with the taken id's).
          assert.strictEqual(counts.create, 2, "one shared statement, then the taken id's alone to say so")
          yield* ownCreates(outcomes, inputs, records, 4, existing.job_id)
        })),
    60_000
  )

  it.scopedLive(
    "issue 16 group commit at one worker: with no other statement in flight, a create runs at once, alone (no turn waited); the creates called after it in the same turn share the next statement",
    () =>
      withStore("coalesce alone at once", true, (url) =>
        Effect.gen(function*() {
          const { counts, outcomes } = yield* createsInOneTurn(url, 6, -1, false)
          assert.strictEqual(counts.create, 2, "the first alone at once, then one for the rest")
          for (const outcome of outcomes) assert.strictEqual(outcome._tag, "Right")
        })),
    60_000
  )
})
