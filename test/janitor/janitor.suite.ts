/**
 * The Janitor (R18, issue 12.6) over a real store, under TestClock: its
 * schedule fires (at once, then every interval) and stops with its scope;
 * each pass prunes old terminal and failed jobs, never pinned ones, keeps the
 * newest N, enforces Flight Recorder retention, and records its report as a
 * `gc_summary` system event (HSK-GC-003).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as TestServices from "effect/TestServices"
import type { AiJob } from "../../src/domain/AiJob.js"
import type { JobState } from "../../src/domain/JobState.js"
import * as FlightRecorder from "../../src/FlightRecorder.js"
import * as Janitor from "../../src/Janitor.js"
import { JobStore, type PruneReport } from "../../src/store/JobStore.js"
import { eventRecord, jobsIn, newJob } from "../store/fixtures.js"
import { type Backend, withTwoStores } from "../support/backend.js"

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

/** One job brought to `state` now (TestClock time), pinned if asked. */
const jobIn = (state: Exclude<JobState, "stalled">, options: { readonly pinned?: boolean } = {}) =>
  Effect.gen(function*() {
    const [job] = yield* jobsIn(state, 1)
    if (job === undefined) return assert.fail("setup: one job")
    return options.pinned === true ? yield* (yield* JobStore).setPinned(job.job_id, true) : job
  })

/** Which of `jobs` still exist. */
const surviving = (jobs: ReadonlyArray<AiJob>) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const left: Array<string> = []
    for (const job of jobs) if ((yield* Effect.either(store.getJob(job.job_id)))._tag === "Right") left.push(job.job_id)
    return left
  })

/** The gc_summary events recorded so far, oldest first, as stored. */
const gcSummaries = Effect.gen(function*() {
  const store = yield* JobStore
  const page = yield* store.listEvents({ types: ["system"], limit: 1000 })
  return page.items.filter((record) => record.body["event_name"] === "gc_summary")
})

/** Waits (on the Janitor's own state, not the clock) until `n` scheduled passes have finished. */
const passesDone = (janitor: Janitor.Janitor["Type"], n: number) =>
  Effect.flatMap(
    Stream.runHead(Stream.filter(janitor.changes, (state) => state.passes >= n)),
    (state) => Option.match(state, { onNone: () => Effect.dieMessage("the Janitor's state stream ended"), onSome: Effect.succeed })
  )

/**
 * Waits until the schedule's fiber sleeps on the TestClock: an `adjust` made
 * before it registers its sleep would not wake it.
 */
const scheduleSleeping = Effect.gen(function*() {
  while (Chunk.isEmpty(yield* TestClock.sleeps())) yield* TestServices.provideLive(Effect.sleep("5 millis"))
})

/** The report of the last scheduled pass, which must have succeeded. */
const lastReport = (state: Janitor.JanitorState) => {
  const exit = Option.getOrThrow(state.last)
  if (exit._tag === "Failure") return assert.fail(`the pass failed: ${String(exit.cause)}`)
  return exit.value
}

export const runJanitorSuite = (backend: Backend) => {
  const withStore = <A, E>(body: Effect.Effect<A, E, JobStore | FlightRecorder.FlightRecorder | Scope.Scope>) =>
    Effect.scoped(body).pipe(
      Effect.provide(FlightRecorder.layer().pipe(Layer.provideMerge(backend.makeStore())))
    )

  describe(`Janitor on ${backend.name}`, () => {
    it.effect("R18 issue 12.6 the schedule fires at once and then every interval; each pass prunes and records gc_summary; closing the scope stops it", () =>
      withStore(Effect.gen(function*() {
        const old = [yield* jobIn("completed"), yield* jobIn("failed")]
        const pinned = yield* jobIn("completed", { pinned: true })
        const running = yield* jobIn("running")
        yield* TestClock.setTime(10 * MINUTE)

        const scope = yield* Scope.make()
        const janitor = yield* Layer.buildWithScope(Janitor.layer({ interval: "1 hour", olderThan: "1 minute", keepNewest: 0 }), scope)
          .pipe(Effect.map((context) => Context.get(context, Janitor.Janitor)))

        const first = lastReport(yield* passesDone(janitor, 1))
        assert.deepInclude(first, { scanned: 3, pruned: 2, spared_pinned: 1, spared_window: 0, dry_run: false, events_purged: 0 })
        assert.deepStrictEqual(yield* surviving([...old, pinned, running]), [pinned.job_id, running.job_id])
        assert.strictEqual((yield* gcSummaries).length, 1)

        // A job finished now is not old yet; an hour on, the second pass finds it.
        const later = yield* jobIn("cancelled")
        yield* scheduleSleeping
        yield* TestClock.adjust("1 hour")
        const second = lastReport(yield* passesDone(janitor, 2))
        assert.deepInclude(second, { scanned: 2, pruned: 1, spared_pinned: 1, spared_window: 0 })
        assert.deepStrictEqual(yield* surviving([later, pinned]), [pinned.job_id])
        const summaries = yield* gcSummaries
        assert.deepStrictEqual(summaries.map((record) => record.body["items_pruned"]), [2, 1])

        // Interrupted with its scope: another hour (and a real pause for a runaway pass) adds nothing.
        yield* Scope.close(scope, Exit.void)
        yield* jobIn("completed")
        yield* TestClock.adjust("2 hours")
        yield* TestServices.provideLive(Effect.sleep("200 millis"))
        assert.strictEqual((yield* gcSummaries).length, 2)
      })), 60_000)

    // Found by an outside probe: on SQLite, `ai-jobs prune` of 100,000 old jobs held the write lock
    // 14–30 s in one transaction; a worker pool's jobs ended failed ("database is locked").
    /** Eight old jobs: seven completed (the newest two kept by `keepNewest: 2`) and one pinned. */
    const oldJobs = Effect.gen(function*() {
      const completed = yield* jobsIn("completed", 7)
      const pinned = yield* jobIn("completed", { pinned: true })
      yield* TestClock.adjust(DAY)
      return { completed, pinned, cutoff: DateTime.unsafeMake((yield* TestClock.currentTimeMillis) - MINUTE) }
    })

    it.effect("R18 a prune of more jobs than one batch deletes them a batch per transaction, with one prune's counts and rows, its summaries adding up to its report", () =>
      withStore(Effect.gen(function*() {
        const { completed, cutoff, pinned } = yield* oldJobs
        const counted = yield* Janitor.prune({ olderThan: cutoff, keepNewest: 2, dryRun: true })
        const batches: Array<PruneReport> = []
        const report = yield* Janitor.prune({
          olderThan: cutoff,
          keepNewest: 2,
          batchSize: 2,
          onBatch: (batch) => Effect.sync(() => void batches.push(batch))
        })
        assert.deepStrictEqual(batches.map((batch) => batch.pruned), [2, 2, 1], "three transactions: two full batches, then the last")
        assert.deepInclude(report, { scanned: 8, pruned: 5, spared_pinned: 1, spared_window: 2, dry_run: false })
        assert.deepInclude(counted, { scanned: report.scanned, pruned: report.pruned, spared_pinned: 1, spared_window: 2 })
        assert.deepStrictEqual(
          yield* surviving([...completed, pinned]),
          [...completed.slice(-2).map((job) => job.job_id), pinned.job_id],
          "the pinned job and the newest two stay"
        )
        const summaries = yield* gcSummaries
        assert.strictEqual(summaries.length, 3, "each batch commits with its own summary")
        for (const key of ["items_scanned", "items_pruned", "items_spared_pinned", "items_spared_window"] as const) {
          assert.strictEqual(summaries.reduce((sum, record) => sum + Number(record.body[key]), 0), {
            items_scanned: 8, items_pruned: 5, items_spared_pinned: 1, items_spared_window: 2
          }[key], key)
        }
        // Run again (as after a crash between batches): nothing more goes, nothing is counted twice.
        assert.deepInclude(yield* Janitor.prune({ olderThan: cutoff, keepNewest: 2, batchSize: 2 }), { scanned: 3, pruned: 0, spared_pinned: 1, spared_window: 2 })
      })))

    it.effect("R18 a pass prunes in batches too, each with a retention batch and one summary: the report and the summaries' sums are one prune's", () =>
      withStore(Effect.gen(function*() {
        const { completed, pinned } = yield* oldJobs
        const report = yield* Janitor.runOnce({ olderThan: "1 minute", keepNewest: 2, pruneBatchSize: 2 })
        assert.deepInclude(report, { scanned: 8, pruned: 5, spared_pinned: 1, spared_window: 2, events_purged: 0 })
        assert.deepStrictEqual(yield* surviving([...completed, pinned]), [...completed.slice(-2).map((job) => job.job_id), pinned.job_id])
        const summaries = yield* gcSummaries
        assert.deepStrictEqual(summaries.map((record) => record.body["items_pruned"]), [2, 2, 1])
        assert.deepStrictEqual(summaries.map((record) => record.body["events_purged"]), [0, 0, 0])
        assert.strictEqual(summaries.reduce((sum, record) => sum + Number(record.body["items_scanned"]), 0), 8)
      })))

    if (backend.makeTwoStores !== undefined) {
      it.effect("R18 between a prune's batches a writer on another connection gets its turn (on SQLite the lock is free: one transaction would refuse it)", () =>
        withTwoStores(backend, (pruner, other) =>
          Effect.gen(function*() {
            const { cutoff } = yield* oldJobs.pipe(Effect.provideService(JobStore, pruner))
            const written: Array<string> = []
            const report = yield* Janitor.prune({
              olderThan: cutoff,
              keepNewest: 2,
              batchSize: 2,
              onBatch: (batch) =>
                batch.pruned < 2
                  ? Effect.void
                  // Run apart from the prune's fiber, whose context would hand it the prune's transaction.
                  : Effect.map(Effect.promise(() => Effect.runPromise(other.createJob(newJob()))), (job) => void written.push(job.job_id))
            }).pipe(Effect.provide(FlightRecorder.layer().pipe(Layer.provideMerge(Layer.succeed(JobStore, pruner)))))
            assert.deepInclude(report, { scanned: 8, pruned: 5, spared_pinned: 1, spared_window: 2 })
            assert.strictEqual(written.length, 2, "a submit on the other connection after each full batch")
            for (const id of written) assert.strictEqual((yield* pruner.getJob(id as AiJob["job_id"])).state, "queued")
          })))
    }

    // Found by an outside mutation audit: each default could change unseen (every test gave its own).
    it.effect("R18 the README's defaults: a pass prunes jobs last updated more than 30 days ago, keeping the newest 100; the schedule runs every hour", () =>
      withStore(Effect.gen(function*() {
        yield* TestClock.setTime(1_000 * DAY)
        yield* jobsIn("failed", 102)
        yield* TestClock.setTime(1_000 * DAY + 30 * DAY)
        assert.deepInclude(yield* Janitor.runOnce({ dryRun: true }), { scanned: 0, pruned: 0 }, "exactly 30 days old: not yet")
        yield* TestClock.setTime(1_000 * DAY + 30 * DAY + 1)
        assert.deepInclude(yield* Janitor.runOnce({ dryRun: true }), { scanned: 102, pruned: 2, spared_window: 100 })

        const janitor = yield* Effect.map(Layer.build(Janitor.layer({ dryRun: true })), (context) => Context.get(context, Janitor.Janitor))
        assert.deepInclude(lastReport(yield* passesDone(janitor, 1)), { scanned: 102, pruned: 2, spared_window: 100 })
        yield* scheduleSleeping
        assert.deepStrictEqual(Chunk.toArray(yield* TestClock.sleeps()), [1_000 * DAY + 30 * DAY + 1 + HOUR], "the next pass, an hour on")
        yield* TestClock.adjust("1 hour")
        assert.strictEqual((yield* passesDone(janitor, 2)).passes, 2)
      })), 60_000)

    it.effect("R18 issue 12.6 a pass reports scanned, pruned, spared_pinned and spared_window, and records exactly that as gc_summary", () =>
      withStore(Effect.gen(function*() {
        const oldest = yield* jobIn("completed")
        yield* TestClock.adjust("1 minute")
        const poisoned = yield* jobIn("poisoned")
        yield* TestClock.adjust("1 minute")
        const failed = yield* jobIn("failed")
        yield* TestClock.adjust("1 minute")
        const withIssues = yield* jobIn("completed_with_issues")
        const pinned = yield* jobIn("cancelled", { pinned: true })
        const queued = yield* jobIn("queued")
        yield* TestClock.adjust("40 days")
        const recent = yield* jobIn("completed")

        const report = yield* Janitor.runOnce({ olderThan: "30 days", keepNewest: 2 })
        // Old and prunable: four unpinned and the pinned one. The newest two unpinned prunable
        // jobs are `recent` (not old) and `withIssues`, so one old job is spared by the window.
        assert.deepInclude(report, { scanned: 5, pruned: 3, spared_pinned: 1, spared_window: 1, dry_run: false })
        assert.deepStrictEqual(
          yield* surviving([oldest, poisoned, failed, withIssues, pinned, queued, recent]),
          [withIssues.job_id, pinned.job_id, queued.job_id, recent.job_id]
        )
        const [summary, ...more] = yield* gcSummaries
        assert.strictEqual(more.length, 0)
        assert.strictEqual(summary?.actor, "system")
        assert.isNull(summary?.job_id)
        assert.notStrictEqual(summary?.trace_id, "00000000-0000-0000-0000-000000000000")
        const { event_id, timestamp, trace_id, ...payload } = summary?.body ?? {}
        assert.isString(event_id)
        assert.isString(timestamp)
        assert.strictEqual(trace_id, summary?.trace_id)
        assert.deepStrictEqual(payload, {
          type: "system",
          actor: "system",
          event_type: "meta.gc_summary",
          event_name: "gc_summary",
          items_scanned: 5,
          items_pruned: 3,
          items_spared_pinned: 1,
          items_spared_window: 1,
          dry_run: false,
          events_purged: 0
        })
        // And the recorder reads it back as a typed event.
        const recorder = yield* FlightRecorder.FlightRecorder
        const listed = yield* recorder.list({ types: ["system"], limit: 1000 })
        assert.isTrue(listed.items.some((event) => "event_name" in event && event.event_name === "gc_summary"))
      })), 60_000)

    it.effect("R18 issue 12.6 old failed jobs are pruned, as the reference prunes them; runs and nodes go with them", () =>
      withStore(Effect.gen(function*() {
        const store = yield* JobStore
        const failed = yield* jobIn("failed")
        const runs = yield* store.listRuns(failed.job_id)
        yield* TestClock.adjust("31 days")
        const report = yield* Janitor.runOnce({ keepNewest: 0 })
        assert.deepInclude(report, { scanned: 1, pruned: 1 })
        assert.deepStrictEqual(yield* surviving([failed]), [])
        for (const run of runs) assert.strictEqual((yield* Effect.either(store.getRun(run.id)))._tag, "Left")
      })), 60_000)

    it.effect("R18 HSK-GC-002 issue 12.6 a pinned job is never pruned, however old, and takes no place among the newest kept", () =>
      withStore(Effect.gen(function*() {
        const pinned = [yield* jobIn("completed", { pinned: true }), yield* jobIn("failed", { pinned: true })]
        const unpinned = yield* jobIn("completed")
        yield* TestClock.adjust("3650 days")
        const report = yield* Janitor.runOnce({ olderThan: "1 day", keepNewest: 1 })
        assert.deepInclude(report, { scanned: 3, pruned: 0, spared_pinned: 2, spared_window: 1 })
        assert.deepStrictEqual(yield* surviving([...pinned, unpinned]), [...pinned, unpinned].map((job) => job.job_id))
      })), 60_000)

    it.effect("R13 R18 issue 12.6 the same pass enforces Flight Recorder retention and counts what it purged", () =>
      withStore(Effect.gen(function*() {
        const recorder = yield* FlightRecorder.FlightRecorder
        const job = yield* jobIn("completed")
        const before = 3
        for (let i = 0; i < before; i++) {
          yield* Effect.flatMap(FlightRecorder.makeEvent("diagnostic", { actor: "system", job_id: job.job_id, diagnostic_id: `d-${i}` }), recorder.record)
        }
        yield* TestClock.adjust(Duration.toMillis(FlightRecorder.DEFAULT_RETENTION) + DAY)
        const report = yield* Janitor.runOnce({ keepNewest: 0 })
        assert.strictEqual(report.events_purged, before)
        // What is left is the pass's own summary, saying so.
        const left = yield* gcSummaries
        assert.strictEqual((yield* recorder.list({ limit: 1000 })).items.length, 1)
        // Events live 7 days, jobs 30: the job itself is not old enough to go yet.
        assert.deepInclude(left[0]?.body, { events_purged: before, items_scanned: 0, items_pruned: 0 })
        assert.deepStrictEqual(yield* surviving([job]), [job.job_id])
      })), 60_000)

    it.effect("R18 issue 12.6 a dry run reports what it would do and changes nothing: no job deleted, no event purged or recorded", () =>
      withStore(Effect.gen(function*() {
        const store = yield* JobStore
        const jobs = [yield* jobIn("completed"), yield* jobIn("failed")]
        yield* TestClock.adjust("40 days")
        const events = (yield* store.listEvents({ limit: 1000 })).items.length
        const report = yield* Janitor.runOnce({ keepNewest: 0, dryRun: true })
        assert.deepInclude(report, { scanned: 2, pruned: 2, spared_pinned: 0, spared_window: 0, dry_run: true })
        assert.isUndefined(report.events_purged)
        assert.strictEqual((yield* surviving(jobs)).length, 2)
        assert.strictEqual((yield* store.listEvents({ limit: 1000 })).items.length, events)
      })), 60_000)

    it.effect("R18 issue 12.6 a configuration that cannot work is refused with DecodeFailure before anything runs", () =>
      withStore(Effect.gen(function*() {
        // olderThan NaN (an unset variable through Number) or below zero was read as zero: every terminal job past keepNewest pruned.
        for (
          const config of [{ keepNewest: -1 }, { keepNewest: 1.5 }, { interval: "0 seconds" }, { interval: Duration.infinity }, { olderThan: Number.NaN }, {
            olderThan: -1
          }] as const
        ) {
          const error = yield* Effect.flip(Janitor.runOnce(config))
          assert.strictEqual(error._tag, "DecodeFailure", JSON.stringify(config))
        }
        assert.strictEqual((yield* gcSummaries).length, 0)
      })), 60_000)

    // An outside probe: `dryRun: 0` was read by truthiness, `null` took the default — real passes, events purged and
    // jobs deleted. Only `undefined` leaves an option out; any other value of the wrong type, or a misspelt key, is refused.
    it.effect("R18 issue 12.6 an option of the wrong type (dryRun 0, \"yes\", null; a duration or count as null, true or text; a duration below zero as text or pair) or misspelt is DecodeFailure naming it, and nothing is purged or pruned", () =>
      withStore(Effect.gen(function*() {
        const store = yield* JobStore
        const recorder = yield* FlightRecorder.FlightRecorder
        const jobs = [yield* jobIn("completed"), yield* jobIn("failed")]
        yield* Effect.flatMap(FlightRecorder.makeEvent("diagnostic", { actor: "system", diagnostic_id: "d-old" }), recorder.record)
        yield* TestClock.adjust(Duration.toMillis(FlightRecorder.DEFAULT_RETENTION) + 40 * DAY)
        const events = (yield* store.listEvents({ limit: 1000 })).items.length
        const cases: ReadonlyArray<readonly [Record<string, unknown>, string]> = [
          [{ keepNewest: 0, dryRun: 0 }, "dryRun"],
          [{ keepNewest: 0, dryRun: "yes" }, "dryRun"],
          [{ keepNewest: 0, dryRun: null }, "dryRun"],
          [{ keepNewest: 0, dryRun: 1 }, "dryRun"],
          [{ keepNewest: 0, olderThan: null }, "olderThan"],
          [{ keepNewest: 0, olderThan: true }, "olderThan"],
          // Effect's parser reads a negative text or [seconds, nanos] pair as zero: every unpinned job pruned, however young.
          [{ keepNewest: 0, olderThan: "-7 days" }, "olderThan"],
          [{ keepNewest: 0, olderThan: [-1, 0] }, "olderThan"],
          [{ keepNewest: 0, interval: "-1 seconds" }, "interval"],
          [{ keepNewest: 0, interval: null }, "interval"],
          [{ keepNewest: null }, "keepNewest"],
          [{ keepNewest: "0" }, "keepNewest"],
          [{ keepNewest: 0, dryrun: true }, "dryrun"]
        ]
        for (const [config, path] of cases) {
          const name = JSON.stringify(config)
          const error = yield* Effect.flip(Janitor.runOnce(config as Janitor.JanitorConfig))
          assert.strictEqual(error._tag, "DecodeFailure", name)
          if (error._tag === "DecodeFailure") assert.deepInclude(error.issues.map((issue) => issue.path), path, name)
          const built = yield* Effect.exit(Effect.scoped(Layer.build(Janitor.layer(config as Janitor.JanitorConfig))))
          assert.isTrue(Exit.isFailure(built), `layer ${name}`)
        }
        for (const dryRun of [0, "yes", null]) {
          const error = yield* Effect.flip(Janitor.prune({ olderThan: yield* DateTime.now, keepNewest: 0, dryRun: dryRun as never }))
          assert.strictEqual(error._tag, "DecodeFailure", `prune dryRun ${String(dryRun)}`)
        }
        // Who prunes, as its summaries record it: only the two actors a gc_summary holds.
        for (const actor of ["agent", "HUMAN", null]) {
          const error = yield* Effect.flip(Janitor.prune({ olderThan: yield* DateTime.now, keepNewest: 0, actor: actor as never }))
          assert.strictEqual(error._tag, "DecodeFailure", `prune actor ${String(actor)}`)
          if (error._tag === "DecodeFailure") assert.deepInclude(error.issues.map((issue) => issue.path), "actor", `prune actor ${String(actor)}`)
        }
        // An operator's purge (ai-jobs retention): a misspelt cutoff would purge up to the recorder's window instead.
        const misspelt = yield* Effect.flip(Janitor.purgeEvents({ cutof: yield* DateTime.now } as never))
        assert.strictEqual(misspelt._tag, "DecodeFailure", "purgeEvents cutof")
        if (misspelt._tag === "DecodeFailure") assert.deepInclude(misspelt.issues.map((issue) => issue.path), "cutof")
        assert.strictEqual((yield* surviving(jobs)).length, 2, "no job pruned")
        assert.strictEqual((yield* store.listEvents({ limit: 1000 })).items.length, events, "no event purged or recorded")
        // The options as named still work, and undefined is left out.
        const dry = yield* Janitor.runOnce({ keepNewest: 0, dryRun: true, olderThan: undefined } as unknown as Janitor.JanitorConfig)
        assert.deepInclude(dry, { pruned: 2, dry_run: true })
      })), 60_000)

    it.effect("HSK-GC-004 purgeEvents commits each batch with its own gc_summary (actor human, events_purged = that batch): when a batch is told, its summary is already stored, so no end of the purge — a kill included — leaves a purge unrecorded", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        // Five events at 0: batches of two, two and one.
        yield* store.appendEvents(Array.from({ length: 5 }, () => eventRecord({ type: "diagnostic" })))
        const old = (yield* store.listEvents({ limit: 1000 })).items.length
        assert.strictEqual(old, 5, "setup: five old events")
        yield* TestClock.setTime(DAY)
        const storedWhenTold: Array<number> = []
        const summariesNow = Effect.map(store.listEvents({ types: ["system"], limit: 1000 }), (page) =>
          page.items.filter((record) => record.body["event_name"] === "gc_summary").length)
        const purged = yield* Janitor.purgeEvents({
          cutoff: yield* DateTime.now,
          onBatch: () => Effect.orDie(Effect.map(summariesNow, (n) => void storedWhenTold.push(n)))
        })
        assert.strictEqual(purged, old)
        const batches = Math.ceil(old / 2)
        assert.deepStrictEqual(storedWhenTold, Array.from({ length: batches }, (_, i) => i + 1), "each batch's summary committed with it")
        const summaries = yield* gcSummaries
        assert.deepStrictEqual(
          summaries.map((record) => record.body["events_purged"]),
          Array.from({ length: batches }, (_, i) => (i < batches - 1 || old % 2 === 0 ? 2 : 1))
        )
        for (const summary of summaries) assert.include(summary.body, { actor: "human", items_scanned: 0, items_pruned: 0, dry_run: false })
      }).pipe(Effect.scoped, Effect.provide(FlightRecorder.layer({ purgeBatchSize: 2 }).pipe(Layer.provideMerge(backend.makeStore())))), 60_000)
  })
}
