/**
 * R18: the Janitor racing live work on one database, each interleaving forced
 * on purpose. Two processes — each a store of its own (a SQLite connection, a
 * PostgreSQL pool) with Jobs, a recorder and a Janitor over it — share one
 * database. One side is held at a gate inside its open transaction (after an
 * operator's lock of the job, after a pass's DELETE, after an event's INSERT,
 * inside a recovery scan); the other is started and let run until it has
 * finished or (PostgreSQL) waits for a lock; then the gate opens
 * (`interleave`, test/jobs/shared-database.ts).
 *
 * Whatever the order, the outcome must be one a serial order gives: the loser
 * gets a typed error (`NotFound`, `IllegalTransition`) and writes nothing, or
 * succeeds with the job kept; no event without its change; each pass's
 * `gc_summary` says exactly what that pass did, two passes never count one
 * job twice, and the keep-newest window holds. (A retry's and a pin's races
 * with a pass are in test/reliability/race-audit.test.ts.)
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { randomUUID } from "node:crypto"
import * as Capabilities from "../../src/Capabilities.js"
import type { AiJob } from "../../src/domain/AiJob.js"
import type { DecodeFailure } from "../../src/domain/Errors.js"
import type { EventRecord } from "../../src/domain/EventRecord.js"
import type { JobId } from "../../src/domain/Ids.js"
import * as FlightRecorder from "../../src/FlightRecorder.js"
import * as Janitor from "../../src/Janitor.js"
import * as JobsModule from "../../src/Jobs.js"
import { Jobs } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { type Audit, JobStore } from "../../src/store/JobStore.js"
import * as WakeUp from "../../src/WakeUp.js"
import { engineOn } from "../engine/engine.js"
import { hooked, makeGate as makeHookGate, makeHooks, open as openHookGate, RETRY } from "../jobs/endRaceHooks.js"
import { summarize } from "../jobs/jobs.suite.js"
import { type Gate, holdingScan, interleave, makeGate, realSleep, type SharedBackend, sharedBackends, type SharedDatabase, untilDoneOrLockWaiters } from "../jobs/shared-database.js"
import { auditAfterPrune } from "../reliability/invariants.js"

type Store = JobStore["Type"]

/** The records an `Audit` gives, as an Effect. */
const recordsOf = <A>(events: Audit<A> | undefined, a: A): Effect.Effect<ReadonlyArray<EventRecord>, DecodeFailure> =>
  Effect.suspend(() => {
    const records = events?.(a) ?? []
    return Effect.isEffect(records) ? records : Effect.succeed(records)
  })

/**
 * `store` held at `gate`, inside the transaction of: an operator's lock of a
 * job (`lockJob`, every move, pin and metrics write takes it first); a pass's
 * prune (after its DELETE, the deleted rows still locked, before its
 * gc_summary is built); an event's append (its row written, not committed);
 * a recovery scan (its stale rows locked, before its events).
 */
const holding = (store: Store, gate: Gate): Store =>
  holdingScan({
    ...store,
    lockJob: (jobId) => gate.after(store.lockJob(jobId)),
    pruneJobs: (options) => store.pruneJobs({ ...options, events: (report) => gate.after(recordsOf(options.events, report)) }),
    appendEvents: (events) => store.transaction(gate.after(store.appendEvents(events)))
  }, gate.after(Effect.void))

/** One process: its store (holdable), Jobs, recorder and Janitor over it. */
const processOn = (database: SharedDatabase) =>
  Effect.gen(function*() {
    const gate = yield* makeGate
    const store = holding(yield* database.store(), gate)
    const context = yield* Layer.build(JobsModule.layer().pipe(
      Layer.provideMerge(Recovery.layerNoStartupRecovery),
      Layer.provideMerge(WakeUp.layerPollOnly),
      // Keeps every event: a pass 31 days on (TestClock) would otherwise purge the events read here.
      Layer.provideMerge(FlightRecorder.layer({ retention: Duration.infinity })),
      Layer.provideMerge(Capabilities.layerDefault),
      Layer.provideMerge(Layer.succeed(JobStore, store))
    ))
    const services = Context.pick(JobStore, FlightRecorder.FlightRecorder)(context)
    return {
      gate,
      store,
      jobs: Context.get(context, Jobs),
      recorder: Context.get(context, FlightRecorder.FlightRecorder),
      // A pass's pruning with its gc_summary (`Janitor.prune`, cutoff 30 days ago), without the
      // retention that `runOnce` runs first: on SQLite that purge is a write of its own, so a
      // pass meeting a held writer waited there and began its pruning only after it — never
      // racing the pruning itself.
      janitor: (keepNewest: number, batchSize?: number) =>
        Effect.provide(
          Effect.flatMap(DateTime.now, (now) =>
            Janitor.prune({ olderThan: DateTime.subtract(now, { days: 30 }), keepNewest, ...(batchSize === undefined ? {} : { batchSize }) })),
          services
        ),
      // One batch at a time: a second concurrent batch would wait for the held one's job, a lock
      // waiter that is not the rival.
      recover: Effect.provide(Recovery.recoverStalledRuns({ threshold: "30 seconds", concurrency: 1 }), context)
    }
  })

/** Two processes on a fresh database of `backend`. */
const twoProcesses = (backend: SharedBackend, label: string) =>
  Effect.gen(function*() {
    const database = yield* backend.fresh(label)
    return { database, first: yield* processOn(database), second: yield* processOn(database) }
  })

/** "ok", or the tag of the typed failure (a defect fails the race itself). */
const outcome = (result: Either.Either<unknown, unknown>): string =>
  Either.isRight(result) ? "ok" : String((result.left as { readonly _tag?: string })._tag)

/** The value of a success; a failure fails the test naming it. */
const valueOf = <A, E>(result: Either.Either<A, E>, what: string): A =>
  Either.isRight(result) ? result.right : assert.fail(`${what} failed: ${String(result.left)}`)

/** The counts of a pass, in the order scanned, pruned, spared_pinned, spared_window. */
const countsOf = (report: Janitor.JanitorReport) => [report.scanned, report.pruned, report.spared_pinned, report.spared_window]

/** Every gc_summary's counts, as stored (oldest first), in the order of `countsOf`. */
const gcSummaries = (store: Store) =>
  Effect.map(store.listEvents({ types: ["system"], limit: 1000 }), (page) =>
    page.items
      .filter((record) => record.body["event_name"] === "gc_summary")
      .map(({ body }) => [body["items_scanned"], body["items_pruned"], body["items_spared_pinned"], body["items_spared_window"]]))

/** The `system` events about one job. */
const systemEvents = (store: Store, jobId: JobId) =>
  Effect.map(store.listEvents({ job_id: jobId, types: ["system"], limit: 1000 }), (page) => page.items)

/** Whether job `jobId` is still stored. */
const exists = (store: Store, jobId: JobId) => Effect.map(Effect.either(store.getJob(jobId)), (found) => found._tag === "Right")

/** A job brought to `state` by hand (`failed`, `completed`), pinned if asked, then 31 days of TestClock: old enough for a pass. */
const oldJobs = (jobs: Jobs["Type"], state: "failed" | "completed", count: number, options: { readonly pinned?: boolean } = {}) =>
  Effect.gen(function*() {
    const made: Array<AiJob> = []
    for (let i = 0; i < count; i++) {
      const job = yield* jobs.submit(summarize())
      if (state === "failed") yield* jobs.fail(job.job_id, "gave up", { actor: "human" })
      else {
        yield* jobs.start(job.job_id)
        yield* jobs.complete(job.job_id, { actor: "human" })
      }
      made.push(options.pinned === true ? yield* jobs.pin(job.job_id) : job)
      // Each a minute newer than the one before: the window's order is theirs.
      yield* TestClock.adjust("1 minute")
    }
    yield* TestClock.adjust("31 days")
    return made
  })

/**
 * The checks every race ends with: each pass's gc_summary is its report (and
 * there is one per pass), and the database passes the reliability audit
 * (`recorded`: the events a test recorded itself, left out of it).
 */
const truthful = (database: SharedDatabase, store: Store, reports: ReadonlyArray<Janitor.JanitorReport>, recorded: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const stored = yield* gcSummaries(store)
    assert.sameDeepMembers(stored, reports.map(countsOf), "one gc_summary a pass, saying what it did")
    assert.deepStrictEqual(auditAfterPrune(yield* database.snapshot, recorded), [])
  })

/** An operator's move that a pass races, and what it does to an old job when it goes first. */
interface OperatorMove {
  readonly name: string
  readonly requirement: string
  readonly state: "failed" | "completed"
  readonly pinned?: boolean
  readonly act: (jobs: Jobs["Type"], jobId: JobId) => Effect.Effect<unknown, unknown>
  /** Whether it records a system event when it changes the job (a metrics write records none). */
  readonly audited: boolean
  /** When it holds the job first: its outcome, and the pass's counts once it has committed. */
  readonly first: { readonly outcome: string; readonly kept: boolean; readonly pass: ReadonlyArray<number> }
  /** When the pass holds the job first: its outcome, and the pass's counts. */
  readonly second: { readonly outcome: string; readonly kept: boolean; readonly pass: ReadonlyArray<number> }
}

const MOVES: ReadonlyArray<OperatorMove> = [
  {
    name: "a poison of an old failed job",
    requirement: "R18 R6b",
    state: "failed",
    audited: true,
    act: (jobs, id) => jobs.poison(id, { actor: "human", reason: "never again" }),
    // Poisoned is prunable too, but the move made the job new: not scanned.
    first: { outcome: "ok", kept: true, pass: [0, 0, 0, 0] },
    second: { outcome: "NotFound", kept: false, pass: [1, 1, 0, 0] }
  },
  {
    name: "a cancel of an old completed job",
    requirement: "R18 R6",
    state: "completed",
    audited: true,
    act: (jobs, id) => jobs.cancel(id, { actor: "human" }),
    // Refused (completed is terminal) and nothing written: the job stays old and the pass prunes it.
    first: { outcome: "IllegalTransition", kept: false, pass: [1, 1, 0, 0] },
    second: { outcome: "NotFound", kept: false, pass: [1, 1, 0, 0] }
  },
  {
    name: "an unpin of an old pinned failed job",
    requirement: "R18 HSK-GC-002",
    state: "failed",
    pinned: true,
    audited: true,
    act: (jobs, id) => jobs.unpin(id, { actor: "human" }),
    // Unpinned first, the job is new: not scanned. Pass first, it is spared as pinned, then unpinned.
    first: { outcome: "ok", kept: true, pass: [0, 0, 0, 0] },
    second: { outcome: "ok", kept: true, pass: [1, 0, 1, 0] }
  },
  {
    name: "an addMetrics on an old failed job",
    requirement: "R18 R4",
    state: "failed",
    audited: false,
    act: (jobs, id) => jobs.addMetrics(id, { input_tokens: 3 }),
    first: { outcome: "ok", kept: true, pass: [0, 0, 0, 0] },
    second: { outcome: "NotFound", kept: false, pass: [1, 1, 0, 0] }
  }
]

for (const backend of sharedBackends) {
  const onPg = backend.name === "PostgreSQL"

  describe(`the Janitor racing operators, on ${backend.name}`, () => {
    for (const move of MOVES) {
      it.effect(`${move.requirement} ${move.name} holding the job when a pass comes (keepNewest 0): ${move.first.outcome}, the pass counts the job as it is once the move is done`, () =>
        Effect.gen(function*() {
          const { database, first, second } = yield* twoProcesses(backend, `operator first ${move.name}`)
          const [job] = yield* oldJobs(second.jobs, move.state, 1, { pinned: move.pinned ?? false })
          const eventsBefore = (yield* systemEvents(second.store, job!.job_id)).length
          const result = yield* interleave(database, backend, first.gate, move.act(first.jobs, job!.job_id), second.janitor(0))
          assert.isFalse(result.rivalFirst, "the pass waited for the operator")
          assert.strictEqual(outcome(result.first), move.first.outcome)
          const report = valueOf(result.second, "the pass")
          assert.deepStrictEqual(countsOf(report), move.first.pass)
          assert.strictEqual(yield* exists(second.store, job!.job_id), move.first.kept)
          if (move.first.kept) {
            const events = (yield* systemEvents(second.store, job!.job_id)).length
            assert.strictEqual(events, eventsBefore + (move.audited ? 1 : 0), "the move's event, if it records one")
          }
          yield* truthful(database, second.store, [report])
        }).pipe(Effect.scoped), 60_000)

      it.effect(`${move.requirement} ${move.name} that a pass is pruning (keepNewest 0): ${move.second.outcome}, no event without its change`, () =>
        Effect.gen(function*() {
          const { database, first, second } = yield* twoProcesses(backend, `pass first ${move.name}`)
          const [job] = yield* oldJobs(second.jobs, move.state, 1, { pinned: move.pinned ?? false })
          const eventsBefore = (yield* systemEvents(second.store, job!.job_id)).length
          const result = yield* interleave(database, backend, first.gate, first.janitor(0), move.act(second.jobs, job!.job_id))
          assert.isFalse(result.rivalFirst, "the operator waited for the pass")
          const report = valueOf(result.first, "the pass")
          assert.deepStrictEqual(countsOf(report), move.second.pass)
          assert.strictEqual(outcome(result.second), move.second.outcome)
          assert.strictEqual(yield* exists(second.store, job!.job_id), move.second.kept)
          const eventsAfter = (yield* systemEvents(second.store, job!.job_id)).length
          assert.strictEqual(eventsAfter, eventsBefore + (move.second.outcome === "ok" && move.audited ? 1 : 0), "an event only with its change")
          yield* truthful(database, second.store, [report])
        }).pipe(Effect.scoped), 60_000)
    }
  })

  describe(`the Janitor's window racing an operator, on ${backend.name}`, () => {
    it.effect("R18 R6 a retry of the old job a pass keeps in its window (keepNewest 1), the pass holding it: the retry waits, then succeeds; the job kept, counted spared_window, never pruned", () =>
      Effect.gen(function*() {
        const { database, first, second } = yield* twoProcesses(backend, "pass window then retry")
        const [older, newest] = yield* oldJobs(second.jobs, "failed", 2)
        const result = yield* interleave(database, backend, first.gate, first.janitor(1), second.jobs.retry(newest!.job_id, { actor: "human" }))
        // PostgreSQL: the pass locked every old prunable job before it chose what to keep.
        assert.isFalse(result.rivalFirst, "the retry waited for the pass")
        const report = valueOf(result.first, "the pass")
        assert.deepStrictEqual(countsOf(report), [2, 1, 0, 1])
        assert.strictEqual(outcome(result.second), "ok")
        assert.isFalse(yield* exists(second.store, older!.job_id))
        assert.strictEqual((yield* second.store.getJob(newest!.job_id)).state, "queued")
        yield* truthful(database, second.store, [report])
      }).pipe(Effect.scoped), 60_000)
  })

  describe(`the Janitor racing events about the job it prunes, on ${backend.name}`, () => {
    /** A diagnostic naming `job` (its trace filled in by the recorder from the job, if still there). */
    const diagnostic = (job: AiJob) => ({
      type: "diagnostic",
      event_id: randomUUID(),
      timestamp: new Date().toISOString(),
      actor: "agent",
      job_id: job.job_id,
      diagnostic_id: "diag-prune-race",
      severity: "warning",
      source: "prune race"
    })

    it.effect("R18 R10 an event naming a job a pass is pruning is appended (events have no reference to their job and outlive it); the pass counts the job pruned", () =>
      Effect.gen(function*() {
        const { database, first, second } = yield* twoProcesses(backend, "pass then event")
        const [job] = yield* oldJobs(second.jobs, "failed", 1)
        const result = yield* interleave(database, backend, first.gate, first.janitor(0), second.recorder.recordUntrusted(diagnostic(job!)))
        // PostgreSQL: an append takes no lock the pass holds; SQLite: it waits for the write lock.
        assert.strictEqual(result.rivalFirst, onPg)
        const report = valueOf(result.first, "the pass")
        assert.deepStrictEqual(countsOf(report), [1, 1, 0, 0])
        const recorded = valueOf(result.second, "the append")
        assert.isFalse(yield* exists(second.store, job!.job_id))
        const stored = (yield* second.store.listEvents({ job_id: job!.job_id, types: ["diagnostic"] })).items
        assert.deepStrictEqual(stored.map((e) => [e.event_id, e.trace_id]), [[recorded.event_id, job!.trace_id]], "read while the job was still committed: its trace")
        yield* truthful(database, second.store, [report], [recorded.event_id])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R18 R10 a pass while an event naming its job is written and not committed prunes the job; the event commits after it, kept", () =>
      Effect.gen(function*() {
        const { database, first, second } = yield* twoProcesses(backend, "event then pass")
        const [job] = yield* oldJobs(second.jobs, "failed", 1)
        const result = yield* interleave(database, backend, first.gate, first.recorder.recordUntrusted(diagnostic(job!)), second.janitor(0))
        assert.strictEqual(result.rivalFirst, onPg, "PostgreSQL: the pass waits for nothing the append holds")
        const recorded = valueOf(result.first, "the append")
        const report = valueOf(result.second, "the pass")
        assert.deepStrictEqual(countsOf(report), [1, 1, 0, 0])
        assert.isFalse(yield* exists(second.store, job!.job_id))
        const stored = (yield* second.store.listEvents({ job_id: job!.job_id, types: ["diagnostic"] })).items
        assert.deepStrictEqual(stored.map((e) => e.event_id), [recorded.event_id])
        yield* truthful(database, second.store, [report], [recorded.event_id])
      }).pipe(Effect.scoped), 60_000)
  })

  describe(`two Janitor passes at once, on ${backend.name}`, () => {
    it.effect("R18 HSK-GC-003 a pass while another, in another process, holds what it pruned: nothing counted twice, each gc_summary its own, the newest kept", () =>
      Effect.gen(function*() {
        const { database, first, second } = yield* twoProcesses(backend, "two passes")
        const [pinned] = yield* oldJobs(second.jobs, "failed", 1, { pinned: true })
        const old = yield* oldJobs(second.jobs, "failed", 5)
        const result = yield* interleave(database, backend, first.gate, first.janitor(2), second.janitor(2))
        assert.isFalse(result.rivalFirst, "the second pass waited for the first")
        const a = valueOf(result.first, "the first pass")
        const b = valueOf(result.second, "the second pass")
        // Six old: the pinned one spared, the two newest kept, three pruned — once.
        assert.deepStrictEqual(countsOf(a), [6, 3, 1, 2])
        assert.deepStrictEqual(countsOf(b), [3, 0, 1, 2])
        const left = []
        for (const job of [pinned!, ...old]) if (yield* exists(second.store, job.job_id)) left.push(job.job_id)
        assert.deepStrictEqual(left, [pinned!.job_id, old[3]!.job_id, old[4]!.job_id])
        yield* truthful(database, second.store, [a, b])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R18 HSK-GC-003 a pass in batches (3 a batch) while an operator holds an old job to pin it: it waits, then prunes every other old unpinned job, and no batch's summary counts a job spared by the window (keepNewest 0)", () =>
      Effect.gen(function*() {
        // Found by a regression probe (PostgreSQL): a batch locked only its oldest jobs, waited for the held
        // one in its DELETE, came up short, was taken for the last, and counted the rest as spared by the window.
        const { database, first, second } = yield* twoProcesses(backend, "batched pass pin")
        const pinned = yield* oldJobs(second.jobs, "failed", 3, { pinned: true })
        const old = yield* oldJobs(second.jobs, "failed", 6)
        yield* first.gate.arm
        const pinning = yield* Effect.fork(Effect.either(first.jobs.pin(old[1]!.job_id, { actor: "human" })))
        yield* first.gate.reached
        const pass = yield* Effect.fork(Effect.either(second.janitor(0, 3)))
        yield* untilDoneOrLockWaiters(database, backend, pass)
        yield* first.gate.open
        assert.strictEqual(outcome(yield* Fiber.join(pinning)), "ok")
        const report = valueOf(yield* Fiber.join(pass), "the pass")
        // The pinned one is new once pinned: not scanned. Three pinned old spared, the other five pruned.
        assert.deepStrictEqual(countsOf(report), [8, 5, 3, 0])
        assert.deepStrictEqual(yield* gcSummaries(second.store), [[3, 3, 0, 0], [5, 2, 3, 0]])
        const left = []
        for (const job of [...pinned, ...old]) if (yield* exists(second.store, job.job_id)) left.push(job.job_id)
        assert.deepStrictEqual(left, [...pinned.map((job) => job.job_id), old[1]!.job_id])
        assert.deepStrictEqual(auditAfterPrune(yield* database.snapshot, []), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R18 HSK-GC-003 a pass in batches (3 a batch) while an operator holds the newest old job: on PostgreSQL the full batches, which lock only their own jobs, commit meanwhile and the last waits for it; on SQLite, one writer at a time, the pass waits first", () =>
      Effect.gen(function*() {
        // Found by a regression probe (PostgreSQL): each batch locked every old prunable job, so a prune
        // of N old jobs in batches of B did O(N²/B) work, and its first batch waited for this operator.
        const { database, first, second } = yield* twoProcesses(backend, "batches beside a held job")
        // Reads on a connection of its own: on SQLite the pass's waits for the write lock on its own.
        const reader = yield* processOn(database)
        const old = yield* oldJobs(second.jobs, "failed", 7)
        yield* first.gate.arm
        const writing = yield* Effect.fork(Effect.either(first.jobs.addMetrics(old[6]!.job_id, { input_tokens: 3 })))
        yield* first.gate.reached
        const pass = yield* Effect.fork(Effect.either(second.janitor(0, 3)))
        yield* untilDoneOrLockWaiters(database, backend, pass)
        const meanwhile = yield* gcSummaries(reader.store)
        yield* first.gate.open
        assert.deepStrictEqual(meanwhile, onPg ? [[3, 3, 0, 0], [3, 3, 0, 0]] : [])
        assert.strictEqual(outcome(yield* Fiber.join(writing)), "ok")
        const report = valueOf(yield* Fiber.join(pass), "the pass")
        // The metrics write made the held job new: not scanned.
        assert.deepStrictEqual(countsOf(report), [6, 6, 0, 0])
        assert.deepStrictEqual(yield* gcSummaries(second.store), [[3, 3, 0, 0], [3, 3, 0, 0], [0, 0, 0, 0]])
        assert.isTrue(yield* exists(second.store, old[6]!.job_id))
        assert.deepStrictEqual(auditAfterPrune(yield* database.snapshot, []), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R18 HSK-GC-003 two passes both waiting on an operator's pin of the newest old job: the older jobs pruned once, the window moved to the next newest, both summaries truthful", () =>
      Effect.gen(function*() {
        const { database, first, second } = yield* twoProcesses(backend, "two passes pin")
        const third = yield* processOn(database)
        const old = yield* oldJobs(second.jobs, "failed", 4)
        // The operator (first) holds the newest job locked, about to pin it.
        yield* first.gate.arm
        const pinning = yield* Effect.fork(Effect.either(first.jobs.pin(old[3]!.job_id, { actor: "human" })))
        yield* first.gate.reached
        const passes = yield* Effect.fork(Effect.all([second.janitor(1), third.janitor(1)], { concurrency: 2 }))
        // PostgreSQL: one pass waits for the pin, the other for the rows the first has locked.
        yield* untilDoneOrLockWaiters(database, backend, passes, 2)
        assert.isTrue(Option.isNone(yield* Fiber.poll(passes)), "both passes waited")
        yield* first.gate.open
        assert.strictEqual(outcome(yield* Fiber.join(pinning)), "ok")
        const reports = yield* Fiber.join(passes)
        // Once the newest is pinned (and new), the window keeps the next newest: two pruned, by one pass.
        assert.sameDeepMembers(reports.map(countsOf), [[3, 2, 0, 1], [1, 0, 0, 1]])
        const left = []
        for (const job of old) if (yield* exists(second.store, job.job_id)) left.push(job.job_id)
        assert.deepStrictEqual(left, [old[2]!.job_id, old[3]!.job_id])
        yield* truthful(database, second.store, reports)
      }).pipe(Effect.scoped), 60_000)
  })

  describe(`the Janitor racing claims and recovery, on ${backend.name}`, () => {
    /** A job started now, its run stale 31 s (TestClock) later: recovery's to stall. */
    const staleRun = (jobs: Jobs["Type"]) =>
      Effect.gen(function*() {
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        yield* TestClock.adjust("31 seconds")
        return job
      })

    it.effect("R18 R9 a recovery scan holding its stale run when a pass comes: the run stalled (never prunable), the old failed job pruned, each with its own records", () =>
      Effect.gen(function*() {
        const { database, first, second } = yield* twoProcesses(backend, "recovery then pass")
        const [failed] = yield* oldJobs(second.jobs, "failed", 1)
        const running = yield* staleRun(second.jobs)
        const result = yield* interleave(database, backend, first.gate, first.recover, second.janitor(0))
        assert.strictEqual(result.rivalFirst, onPg, "PostgreSQL: the pass locks no row the scan holds")
        assert.strictEqual(valueOf(result.first, "recovery").recovered.length, 1)
        assert.deepStrictEqual(countsOf(valueOf(result.second, "the pass")), [1, 1, 0, 0])
        assert.strictEqual((yield* second.store.getJob(running.job_id)).state, "stalled")
        assert.isFalse(yield* exists(second.store, failed!.job_id))
        yield* truthful(database, second.store, [valueOf(result.second, "the pass")])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R18 R9 a recovery scan while a pass holds what it pruned: the stale run stalled, the pass's counts untouched", () =>
      Effect.gen(function*() {
        const { database, first, second } = yield* twoProcesses(backend, "pass then recovery")
        const [failed] = yield* oldJobs(second.jobs, "failed", 1)
        const running = yield* staleRun(second.jobs)
        const result = yield* interleave(database, backend, first.gate, first.janitor(0), second.recover)
        assert.strictEqual(result.rivalFirst, onPg, "PostgreSQL: the scan locks no row the pass holds")
        const report = valueOf(result.first, "the pass")
        assert.deepStrictEqual(countsOf(report), [1, 1, 0, 0])
        assert.strictEqual(valueOf(result.second, "recovery").recovered.length, 1)
        assert.strictEqual((yield* second.store.getJob(running.job_id)).state, "stalled")
        assert.isFalse(yield* exists(second.store, failed!.job_id))
        yield* truthful(database, second.store, [report])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R18 a claim while a pass holds what it pruned: an old queued job is no prunable state, the claim takes it; the pass prunes only the failed one", () =>
      Effect.gen(function*() {
        const { database, first, second } = yield* twoProcesses(backend, "pass then claim")
        const queued = yield* second.jobs.submit(summarize())
        const [failed] = yield* oldJobs(second.jobs, "failed", 1)
        const result = yield* interleave(database, backend, first.gate, first.janitor(0), second.jobs.claimNext())
        assert.strictEqual(result.rivalFirst, onPg, "PostgreSQL: the claim locks no row the pass holds")
        const report = valueOf(result.first, "the pass")
        assert.deepStrictEqual(countsOf(report), [1, 1, 0, 0])
        assert.strictEqual(valueOf(result.second, "the claim")?.job.job_id, queued.job_id)
        assert.isFalse(yield* exists(second.store, failed!.job_id))
        // Done, so no run is left running for the audit.
        yield* second.jobs.complete(queued.job_id, { actor: "human" })
        yield* truthful(database, second.store, [report])
      }).pipe(Effect.scoped), 60_000)
  })

  describe(`the Janitor racing a worker's retry, on ${backend.name}`, () => {
    it.live("R18 issue 15.1 a pass pruning everything old (cutoff now) while a failed attempt is written and its retry's requeue not yet (one transaction): the job was never committed failed, the pass prunes nothing, the job is requeued", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("pass in requeue")
        const hooks = makeHooks()
        const worker = yield* engineOn(database, { retry: RETRY, wrapStore: hooked(hooks) })
        const janitorStore = yield* database.store()
        const recorder = FlightRecorder.layer({ retention: Duration.infinity }).pipe(Layer.provideMerge(Layer.succeed(JobStore, janitorStore)))
        const started = yield* Deferred.make<void>()
        const fail = yield* Deferred.make<void>()
        yield* Effect.forkScoped(worker.jobs.worker({
          concurrency: 1,
          pollInterval: "50 millis",
          drainTimeout: "1 millis",
          handler: () => Effect.zipRight(Deferred.succeed(started, undefined), Effect.zipRight(Deferred.await(fail), Effect.fail("the model gave up"))),
          run: { heartbeatInterval: "1 hour" }
        }))
        const job = yield* worker.jobs.submit(summarize())
        yield* Deferred.await(started)
        const held = yield* makeHookGate
        hooks.requeueHeld.set(job.job_id, held)
        yield* Deferred.succeed(fail, undefined)
        yield* Deferred.await(held.reached)
        // Real time: the failure is stamped before this cutoff, so a committed `failed` would be pruned.
        yield* realSleep(5)
        const cutoff = yield* DateTime.now
        const pass = yield* Effect.fork(Effect.provide(Janitor.prune({ olderThan: cutoff, keepNewest: 0 }), recorder))
        yield* untilDoneOrLockWaiters(database, backend, pass)
        // PostgreSQL: the committed row is still running, nothing to lock or wait for; SQLite: the write lock.
        assert.strictEqual(Option.isSome(yield* Fiber.poll(pass)), onPg)
        yield* openHookGate(held)
        const report = yield* Fiber.join(pass)
        assert.deepStrictEqual(countsOf(report), [0, 0, 0, 0])
        const after = yield* worker.jobs.await(job.job_id, { until: ["queued"], timeout: "30 seconds" })
        assert.deepStrictEqual([after.state, after.attempt], ["queued", 2], "requeued for its second attempt (an hour on)")
        yield* truthful(database, janitorStore, [report])
      }).pipe(Effect.scoped), 90_000)
  })
}
