/**
 * Startup recovery (R9, HSK-WF-003): running workflow runs whose heartbeat is
 * older than the threshold become `stalled`, with their jobs, and each gets
 * one `workflow_recovery` event — in one transaction per batch, so a crash
 * never leaves a stalled run without its event. Concurrent recoverers are
 * safe: the store hands each stale run to exactly one of them.
 *
 * This is the only module that moves a job from `running` to `stalled` (R6a).
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { DecodeFailure } from "./domain/Errors.js"
import { withServiceSpan } from "./internal/flight/serviceSpan.js"
import { readOptions } from "./domain/knownOptions.js"
import { instantBefore } from "./domain/Timestamp.js"
import type { RecoveryPass } from "./domain/stallReason.js"
import type { WorkflowRun } from "./domain/WorkflowRun.js"
import { type BatchHandler, tellBatch } from "./util/batchHandler.js"
import { yieldToEventLoop } from "./util/yieldToEventLoop.js"
import { sleepRealTime } from "./util/sleepRealTime.js"
import { sleep, sleepMillis } from "./util/clockSleep.js"
import { JobStore } from "./store/JobStore.js"
import { StorageError } from "./store/StoreErrors.js"

/** The spec's default: a run silent for more than 30 s is stalled. */
export const DEFAULT_THRESHOLD: Duration.Duration = Duration.seconds(30)

/** @deprecated Use `DEFAULT_THRESHOLD` (a `Duration`); this alias goes in the next release. */
export const DEFAULT_THRESHOLD_SECS = 30

/** Options of a recovery scan. */
export interface RecoveryOptions {
  /**
   * Heartbeat age beyond which a running run is stalled: a whole number of
   * seconds, at least one (R9's event records it in seconds). Default 30 s.
   */
  readonly threshold?: Duration.DurationInput | undefined
  /** Runs moved per transaction. Default 1000 on PostgreSQL (one statement a batch), 500 on SQLite. */
  readonly batchSize?: number | undefined
  /**
   * How many batches run at once, each in its own transaction on its own
   * connection: a whole number from 1 to 64. Default 2 on PostgreSQL, 1 on
   * SQLite (one writer at a time).
   */
  readonly concurrency?: number | undefined
  /**
   * How many times a batch that failed with a `StorageError` (the database
   * unreachable or busy for a moment, a lock wait spent) is tried again, after
   * 0.1 s, 0.2 s, 0.4 s … of real time, before the scan fails. A batch is one
   * transaction, so a failed one changed nothing. Default 0;
   * `layerStartup` uses `STARTUP_RETRIES` unless told otherwise.
   */
  readonly retries?: number | undefined
  /**
   * Told each committed batch's runs (as stored after the move), in one
   * uninterruptible step with the batch: a caller whose scan fails part-way
   * knows which runs were stalled — with their events — before the failure.
   * An Effect, or a JS caller's function whose Promise is awaited; its throw,
   * rejection or defect ends the scan (util/batchHandler.ts).
   */
  readonly onBatch?: BatchHandler<ReadonlyArray<WorkflowRun>> | undefined
}

/** Options of `layerStartup`: the scan's, and whether to scan again while the process runs. */
export interface StartupOptions extends RecoveryOptions {
  /**
   * Scan again at this interval once startup recovery has finished (on
   * Effect's `Clock`), so the runs of a worker process that died while this
   * one lives are stalled without waiting for a restart — on a server where
   * several processes share the database. Every process may sweep: each
   * stale run is still stalled exactly once. A sweep that fails is logged and
   * tried again at the next interval; it never closes job intake. The first
   * sweep to get through after a failure waits one threshold and stalls only
   * runs not heard from since (an outage stops workers' heartbeats too); so does
   * a sweep that wakes more than 2 s after its interval, this process having
   * been paused (SIGSTOP, a machine asleep, a blocked event loop) while its own
   * runs could not beat. An outage's end is logged once, when a sweep's stall
   * went through: "the database answers again" (with "no run to stall" when
   * none was left to wait for). Default:
   * none (startup only, with its second look, as R9 asks).
   */
  readonly sweepEvery?: Duration.DurationInput | undefined
}

/**
 * The defaults per dialect (issue 16, bench/analysis.md): on PostgreSQL a
 * batch is one statement, so larger batches cost less each, and two at once
 * keep two server cores busy; SQLite has one writer.
 */
const DEFAULTS = { pg: { batchSize: 1000, concurrency: 2 }, sqlite: { batchSize: 500, concurrency: 1 } } as const

/** The options a scan names. */
const RECOVERY_OPTIONS: ReadonlyArray<string> = ["threshold", "batchSize", "concurrency", "retries", "onBatch"]

/** The options `layerStartup` names. */
const STARTUP_OPTIONS: ReadonlyArray<string> = [...RECOVERY_OPTIONS, "sweepEvery"]

/** How many times `layerStartup` retries a failed batch by default (about 3 s of waiting in all). */
export const STARTUP_RETRIES = 5

/** Runs `batch` again after a `StorageError`, up to `retries` times, backing off in real time. */
const retryStorageErrors = <A, E, R>(batch: Effect.Effect<A, E, R>, retries: number, attempt = 0): Effect.Effect<A, E, R> =>
  Effect.catchIf(
    batch,
    (error) => attempt < retries && error instanceof StorageError,
    (error) =>
      // The error's message as text: passed as a second message part, a logger dumped the error whole as JSON.
      Effect.logWarning(`recovery batch failed (${(error as StorageError).message}), trying again (${attempt + 1} of ${retries})`).pipe(
        Effect.zipRight(sleepRealTime(100 * 2 ** attempt)),
        Effect.zipRight(retryStorageErrors(batch, retries, attempt + 1))
      )
  )

/** The stale scan's order (the stores' `ORDER BY last_heartbeat, id`). */
const staleScanOrder = (a: WorkflowRun, b: WorkflowRun): number => {
  const byBeat = DateTime.toEpochMillis(a.last_heartbeat) - DateTime.toEpochMillis(b.last_heartbeat)
  return byBeat !== 0 ? byBeat : a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}

const inStaleScanOrder = (runs: ReadonlyArray<WorkflowRun>): boolean => {
  for (let i = 1; i < runs.length; i++) if (staleScanOrder(runs[i - 1]!, runs[i]!) > 0) return false
  return true
}

/** What a scan did. */
export interface RecoveryReport {
  /**
   * The runs stalled, as stored after the move (status `stalled`, the stall
   * message as `error_message`, the move's `updated_at`), oldest heartbeat
   * first, then by id.
   */
  readonly recovered: ReadonlyArray<WorkflowRun>
  readonly threshold: Duration.Duration
}

/** A scan's `threshold` (the default when absent), or undefined when it is not a whole number of seconds, at least 1 s. */
const readThreshold = (input: unknown): Duration.Duration | undefined => {
  const threshold = Option.getOrUndefined(Duration.decodeUnknown(input ?? DEFAULT_THRESHOLD))
  const secs = threshold === undefined ? Number.NaN : Duration.toSeconds(threshold)
  return Number.isSafeInteger(secs) && secs >= 1 ? threshold : undefined
}

/**
 * Moves every stale running run and its job to `stalled`, batch by batch,
 * writing one `workflow_recovery` event per run in the same transaction.
 * Called by an application or `ai-jobs recover`, it is a scan on demand, and
 * each reason says so ("stalled (on-demand recovery: heartbeat timeout): …");
 * `layerStartup`'s own scan says "startup recovery", its sweeps "recovery sweep".
 * First, in a transaction of its own, it finishes the stalls a legacy
 * (reference) database's own recovery left half-done: a job still `running`
 * under a run it had stalled moves to `stalled` with its event
 * (`JobStore.stallJobsUnderStalledRuns`); such runs are reported with the rest.
 */
export const recoverStalledRuns = (options: RecoveryOptions = {}) => scanAs(options, "on demand")

/** The scan as `pass` runs it, under `recoverStalledRuns`'s span; half-done legacy stalls are finished by every pass but a sweep. */
const scanAs = (options: RecoveryOptions, pass: RecoveryPass) =>
  withServiceSpan("Recovery.recoverStalledRuns", Effect.suspend(() => stallScan(options, undefined, pass !== "sweep", pass)))

/** `recoverStalledRuns` as the startup gate runs it: its reasons say "startup recovery". */
const startupStalledRuns = (options: RecoveryOptions) => scanAs(options, "startup")

/** A sweep's scan: stale runs only (half-done legacy stalls are startup's, `recoverStalledRuns`). */
const sweepStalledRuns = (options: RecoveryOptions) => scanAs(options, "sweep")

/**
 * The scan: with `heardBefore`, a run is stale when last heard from before
 * that instant rather than before now minus the threshold (startup's second
 * look, `layerStartup`); with `finishLegacyStalls`, the jobs a legacy
 * database left running under a stalled run are stalled first. Each reason
 * names `pass`.
 */
const stallScan = (
  options: RecoveryOptions,
  heardBefore: DateTime.Utc | undefined,
  finishLegacyStalls: boolean,
  pass: RecoveryPass
) => Effect.gen(function*() {
  const store = yield* JobStore
  // Only the options it names (knownOptions.ts): a misspelt `treshold` would scan with the default.
  const read = readOptions(options, RECOVERY_OPTIONS, "RecoveryOptions")
  if (read instanceof DecodeFailure) return yield* read
  options = read
  const threshold = readThreshold(options.threshold)
  const batchSize = options.batchSize ?? DEFAULTS[store.dialect].batchSize
  const concurrency = options.concurrency ?? DEFAULTS[store.dialect].concurrency
  const retries = options.retries ?? 0
  // Checked up front: the R9 event carries the threshold as a whole number of seconds.
  if (threshold === undefined || !Number.isSafeInteger(batchSize) || batchSize < 1) {
    return yield* new DecodeFailure({
      subject: "RecoveryOptions",
      issues: [{ path: "", message: "threshold must be a whole number of seconds, at least 1 s; batchSize a whole number of at least 1" }]
    })
  }
  if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    return yield* new DecodeFailure({
      subject: "RecoveryOptions",
      issues: [{ path: "concurrency", message: "concurrency must be a whole number from 1 to 64" }]
    })
  }
  if (!Number.isSafeInteger(retries) || retries < 0 || retries > 20) {
    return yield* new DecodeFailure({
      subject: "RecoveryOptions",
      issues: [{ path: "retries", message: "retries must be a whole number from 0 to 20" }]
    })
  }
  if (options.onBatch !== undefined && typeof options.onBatch !== "function") {
    return yield* new DecodeFailure({ subject: "RecoveryOptions", issues: [{ path: "onBatch", message: "Expected a function" }] })
  }
  const onBatch = options.onBatch
  const recovered: Array<WorkflowRun> = []

  // One transaction per batch, the store's: the runs it stalls and their `workflow_recovery`
  // records commit together, so each run is recovered — and recorded — exactly once. The
  // store builds those records in SQL, set-based (`recordRecovery`): the fixed shape
  // `recoveryEvent` gives, with no caller text in it, so no JavaScript runs per run (issue 16).
  const batch = Effect.flatMap(DateTime.now, (now) =>
    store.stallStaleRuns({
      // The threshold becomes an instant once per batch, with the Clock; the store only compares.
      heartbeatBefore: heardBefore ?? instantBefore(now, threshold),
      threshold,
      limit: batchSize,
      recordRecovery: true,
      pass
    }))

  // A job the reference left running under a run its recovery had stalled (it writes the run,
  // then the job, each on its own): no scan of running runs finds it and no worker claims it.
  // Its stall is finished once, before intake opens, as a batch of its own; a statement over the
  // running jobs, so at startup (and on demand) only, never on a sweep.
  if (finishLegacyStalls && store.stallJobsUnderStalledRuns !== undefined) {
    const finish = retryStorageErrors(store.stallJobsUnderStalledRuns({ threshold, pass }), retries)
    const finished = yield* (onBatch === undefined ? finish : Effect.uninterruptible(Effect.tap(finish, (moved) =>
      moved.length === 0 ? Effect.void : tellBatch(onBatch, moved.map(({ run }) => run)))))
    for (const { run } of finished) recovered.push(run)
  }

  // Until a batch finds nothing: a short batch does not prove the scan is done, since runs
  // whose job another transaction held were skipped, not counted; an empty one does (a batch
  // that could take nothing waits for those runs' holders: JobStore.stallStaleRuns).
  const scan = Effect.gen(function*() {
    while (true) {
      const stalled = yield* (onBatch === undefined
        ? retryStorageErrors(batch, retries)
        : Effect.uninterruptible(Effect.tap(retryStorageErrors(batch, retries), (moved) =>
          moved.length === 0 ? Effect.void : tellBatch(onBatch, moved.map(({ run }) => run)))))
      for (const { run } of stalled) recovered.push(run)
      if (stalled.length === 0) break
      yield* yieldToEventLoop
    }
  })
  // `concurrency` scans at once, each batch on its own connection: the store hands each stale
  // run to one of them (a batch skips the jobs another holds), and the server moves their
  // batches on as many cores.
  yield* Effect.all(Array.from({ length: concurrency }, () => scan), { concurrency: "unbounded", discard: true })
  // Batches end in any order when several run at once, and a run skipped while another
  // transaction held its job is found by a later batch: the report lists the runs in one
  // order whatever happened — oldest heartbeat first, then by id — on both stores.
  // Each batch comes back in that order, so a check usually suffices; a sort merges the batches.
  if (!inStaleScanOrder(recovered)) recovered.sort(staleScanOrder)
  yield* Effect.annotateCurrentSpan({ "hsk.recovered": recovered.length, "hsk.threshold_secs": Duration.toSeconds(threshold) })
  return { recovered, threshold } satisfies RecoveryReport
})

/** Startup recovery failed, so job intake is closed until it succeeds. Carries the cause. */
export class RecoveryFailed extends Schema.TaggedError<RecoveryFailed>()("RecoveryFailed", {
  cause: Schema.Defect
}) {
  override get message(): string {
    const cause = this.cause as { readonly message?: unknown }
    return `Startup recovery failed, so no new job is accepted${typeof cause?.message === "string" ? `: ${cause.message}` : ""}`
  }
}

/**
 * The gate that holds job intake until startup recovery has finished (R9:
 * "no new AI job is accepted until that scan has finished").
 */
export class RecoveryGate extends Context.Tag("@handshake/ai-job-model/RecoveryGate")<RecoveryGate, {
  /** Waits for recovery's first try; fails with `RecoveryFailed` while no try has succeeded. */
  readonly await: Effect.Effect<void, RecoveryFailed>
  /** The outcome once known: the report of the try that succeeded, or the last failure. */
  readonly result: Effect.Effect<RecoveryReport, RecoveryFailed>
  /** Where the scan is, without waiting: for health checks. */
  readonly status: Effect.Effect<RecoveryStatus>
  /**
   * The threshold this process's recovery stalls runs by, known without
   * waiting: a run's `heartbeatInterval` is warned of at or above it. Absent
   * (no recovery here, or a threshold it refuses): `DEFAULT_THRESHOLD`, R9's
   * for the other processes.
   */
  readonly threshold?: Duration.Duration | undefined
}>() {}

/** Where startup recovery is: still scanning, finished, or failed (intake closed while it tries again). */
export type RecoveryStatus = "running" | "finished" | "failed"

/** One info line when a scan stalled runs (none when it found nothing): what a worker's log shows of recovery. */
const logStalled = (scan: string, report: RecoveryReport): Effect.Effect<void> =>
  report.recovered.length === 0
    ? Effect.void
    : Effect.logInfo(
      `${scan}: stalled ${report.recovered.length} workflow run(s) whose heartbeat was older than ` +
        `${Duration.format(report.threshold)}, each with a workflow_recovery event`
    ).pipe(Effect.annotateLogs(
      "workflow_run_ids",
      // The first ten: a recovery of thousands stays one readable line; the events name every run.
      report.recovered.slice(0, 10).map((run) => run.id).join(",") + (report.recovered.length > 10 ? ",…" : "")
    ))

/** How long startup recovery waits before its `attempt`-th try (from 2): doubling from 1 s, at most 30 s. */
const startupRetryDelay = (attempt: number): Duration.Duration => Duration.seconds(Math.min(30, 2 ** Math.max(0, attempt - 2)))

/**
 * Whether a failed startup scan may pass if tried again: a failure of the
 * database (unreachable, a lock held past its timeout, a row another writer
 * fixes), not bad options or a defect.
 */
const mayPass = (cause: Cause.Cause<unknown>): boolean =>
  // A failed batch interrupts the scan's other batches (PostgreSQL runs two): the failure decides, not those interrupts.
  !Cause.isDie(cause) &&
  Option.match(Cause.failureOption(cause), { onNone: () => false, onSome: (error) => !(error instanceof DecodeFailure) })

/**
 * `effect` tried until it succeeds: after a failure that may pass (`mayPass`),
 * it runs again `startupRetryDelay` later on Effect's `Clock`. `failed` hears
 * of every failure with the try's number and the wait before the next try —
 * none after an interrupt or a failure that cannot pass, which end the tries.
 */
const untilItPasses = <A, R>(
  effect: Effect.Effect<A, unknown, R>,
  succeeded: (value: A, n: number) => Effect.Effect<void>,
  failed: (cause: Cause.Cause<unknown>, n: number, next: Duration.Duration | undefined) => Effect.Effect<void>
): Effect.Effect<void, never, R> => {
  const attempt = (n: number): Effect.Effect<void, never, R> =>
    Effect.matchCauseEffect(effect, {
      onSuccess: (value) => succeeded(value, n),
      onFailure: (cause) => {
        if (Cause.isInterruptedOnly(cause) || !mayPass(cause)) return failed(cause, n, undefined)
        const next = startupRetryDelay(n + 1)
        return failed(cause, n, next).pipe(
          Effect.zipRight(Effect.sleep(next)),
          Effect.zipRight(Effect.suspend(() => attempt(n + 1)))
        )
      }
    })
  return attempt(1)
}

/**
 * Startup's second look. A run last heard from shortly before startup is not
 * stale yet, so the scan leaves it — and if its process died (a restart
 * within the threshold), nothing would stall it until the next restart. One
 * threshold after startup, the runs not heard from since startup are stale by
 * the same rule and are stalled by the same statement (exactly once); a run
 * whose worker lives has beaten since. Only when startup left such runs; it
 * never closes intake. A look that fails is logged and, as startup's scan,
 * tried again 1 s, 2 s, … 30 s later until it gets through.
 */
const secondLook = (
  store: JobStore["Type"],
  scan: RecoveryOptions,
  startedAt: DateTime.Utc,
  threshold: Duration.Duration
): Effect.Effect<void> => {
  const look = stallSilentSince(store, { retries: STARTUP_RETRIES, ...scan }, startedAt, threshold, "startup", "startup recovery, second look")
  return untilItPasses(look, () => Effect.void, (cause, n, next) =>
    Cause.isInterruptedOnly(cause)
      ? Effect.void
      : next === undefined
      ? Effect.logWarning("startup recovery's second look failed (the next restart looks again)", cause)
      : Effect.logWarning(`startup recovery's second look failed (try ${n}); trying again in ${Duration.format(next)}`, cause))
}

/**
 * When runs were last heard from before `since`, stalls those still silent
 * one threshold after it (their reasons naming `pass`, logged under `label`); `announce` runs first, when
 * there are any. Whether it stalled (its write went through): false when none was left. Startup's second look (`since`: startup) and a sweep after
 * an outage (`since`: the database answering again).
 */
const stallSilentSince = (
  store: JobStore["Type"],
  scan: RecoveryOptions,
  since: DateTime.Utc,
  threshold: Duration.Duration,
  pass: RecoveryPass,
  label: string,
  announce: Effect.Effect<void> = Effect.void
) => {
  const due = DateTime.toEpochMillis(since) + Duration.toMillis(threshold)
  return Effect.flatMap(store.findStaleRuns({ heartbeatBefore: since, limit: 1 }), (left) =>
    left.length === 0 ? Effect.succeed(false) : Effect.flatMap(Effect.zipRight(announce, DateTime.now), (now) =>
      sleepMillis(Math.max(0, due - DateTime.toEpochMillis(now))).pipe(
        Effect.zipRight(Effect.provideService(stallScan(scan, since, false, pass), JobStore, store)),
        Effect.flatMap((report) => logStalled(label, report)),
        Effect.as(true)
      )))
}

/**
 * Forks the recovery scan when the layer is built — start-up is not blocked —
 * and holds `Jobs.submit` behind the gate until the scan ends. The scan runs
 * in the layer's scope: closing the application interrupts it. A batch that
 * fails with a `StorageError` is retried (`retries`, default
 * `STARTUP_RETRIES`) before the scan fails. A failed scan closes intake —
 * `Jobs.submit` fails with `RecoveryFailed` at once — and, unless its options
 * are bad, is tried again on Effect's `Clock` after 1 s, 2 s, 4 s … at most
 * 30 s apart until it succeeds, which opens intake without a restart (a
 * database gone for longer than the batch retries, a lock holder frozen past
 * its timeout). When
 * startup left runs last heard from before it, they get a second look one
 * threshold later (`secondLook`). With `sweepEvery`, the scan runs again at
 * that interval for as long as the layer lives.
 */
export const layerStartup = (options: StartupOptions = {}): Layer.Layer<RecoveryGate, never, JobStore> =>
  Layer.scoped(RecoveryGate, Effect.gen(function*() {
    // Read once (knownOptions.ts), before anything uses them: a getter or Proxy trap that throws
    // is a refusal like a misspelt option — intake stays closed with the reason — never a defect
    // from a layer that has no error channel. Named here, not by the scan, so the refusal lists
    // sweepEvery among the options expected.
    const read = readOptions(options, STARTUP_OPTIONS, "StartupOptions")
    const refused = read instanceof DecodeFailure ? read : undefined
    const { sweepEvery, ...scan } = read instanceof DecodeFailure ? {} : read
    const store = yield* JobStore
    // Runs last heard from before this instant and not stale at startup get a second look (secondLook).
    const startedAt = yield* DateTime.now
    // The first try's end (either way), the scan that succeeded, and the last failure while none has.
    const firstTried = yield* Deferred.make<void>()
    const succeeded = yield* Deferred.make<RecoveryReport>()
    // Closing the layer interrupts the scan before it can say its first try ended: every wait at the
    // gate then ends interrupted, as the application's other work does, instead of never.
    yield* Effect.addFinalizer(() => Deferred.interrupt(firstTried))
    let lastFailure: RecoveryFailed | undefined
    const interval = sweepEvery === undefined ? undefined : Option.getOrUndefined(Duration.decodeUnknown(sweepEvery))
    const badInterval = sweepEvery !== undefined &&
      (interval === undefined || !Duration.isFinite(interval) || !Duration.greaterThan(interval, Duration.zero))
    // A bad interval is a bad option of the scan: intake stays closed with the reason, like a bad threshold.
    const startup = refused !== undefined ? Effect.fail(refused) : badInterval
      ? Effect.fail(new DecodeFailure({ subject: "StartupOptions", issues: [{ path: "sweepEvery", message: "sweepEvery must be a finite duration above zero" }] }))
      : startupStalledRuns({ retries: STARTUP_RETRIES, ...scan })
    const tried = Effect.asVoid(Deferred.succeed(firstTried, undefined))
    const startupTries = untilItPasses(
      startup,
      (report, n) =>
        logStalled("startup recovery", report).pipe(
          Effect.zipRight(n === 1 ? Effect.void : Effect.logInfo(`startup recovery succeeded on try ${n}: job intake is open`)),
          Effect.zipRight(Deferred.succeed(succeeded, report)),
          Effect.zipRight(tried)
        ),
      (cause, n, next) => {
        lastFailure = new RecoveryFailed({ cause: Cause.squash(cause) })
        // An interrupt is the layer closing, not a failure.
        if (Cause.isInterruptedOnly(cause)) return tried
        if (next === undefined) {
          return Effect.zipRight(Effect.logError("startup recovery failed: no new job is accepted until it succeeds (restart the process)", cause), tried)
        }
        const said = `no new job is accepted until it succeeds; trying again in ${Duration.format(next)}`
        // An operator's first sign that intake is closed is an ERROR; each later failure a WARN.
        return Effect.zipRight(
          n === 1 ? Effect.logError(`startup recovery failed: ${said}`, cause) : Effect.logWarning(`startup recovery failed again (try ${n}): ${said}`, cause),
          tried
        )
      }
    )
    yield* Effect.forkScoped(startupTries)
    yield* Deferred.await(succeeded).pipe(
      Effect.flatMap((report) => secondLook(store, scan, startedAt, report.threshold)),
      Effect.forkScoped
    )
    if (interval !== undefined && !badInterval) {
      // Sweeps begin once startup recovery has succeeded; a failed one waits for the next interval.
      // A sweep that failed may mean the database was out of reach — for every worker too, whose
      // heartbeats failed meanwhile. Stalling then whatever was last heard from a threshold ago
      // would take the runs of live workers the moment the database is back, before their next
      // beat (a finished program's end dropped with its run). So after a failure the next sweep
      // that reaches the database gives them one threshold to be heard again, and stalls only the
      // runs still silent since — as startup's second look does after a quick restart.
      let outage = false
      // Whether this outage's "can be read again" was said: once an outage, not once a sweep while reads pass and writes fail.
      let readAgainSaid = false
      // Fails while the database is still out of reach (its first statement): the outage goes on. A read is
      // not proof: a SQLite file another connection holds write-locked is read as before and refuses the
      // stall (an outside probe saw "the database answers again" there, then the sweep fail again). That the
      // database answers again is said once the sweep's stall went through.
      const afterOutage = (threshold: Duration.Duration) =>
        Effect.flatMap(DateTime.now, (back) =>
          stallSilentSince(store, { retries: 0, ...scan }, back, threshold, "sweep", "recovery sweep", Effect.suspend(() => {
            if (readAgainSaid) return Effect.void
            readAgainSaid = true
            return Effect.logInfo(
              `recovery sweep: the database can be read again; runs not heard from since are stalled in ${Duration.format(threshold)} if still silent`
            )
          }))).pipe(
            // No running run was heard from before the database was back (none at all, or the one waited for
            // ended meanwhile): nothing to wait for, and no write went through yet — the ordinary sweep's stall
            // is that write (a write-locked SQLite file refuses it: the outage goes on). Only the all-clear
            // ends an outage: a probe saw one end silently, its WARNs the last word.
            Effect.flatMap((wrote) =>
              wrote ? Effect.succeed(true) : Effect.flatMap(sweepStalledRuns({ retries: 0, ...scan }), (report) =>
                report.recovered.length === 0 ? Effect.succeed(false) : Effect.as(logStalled("recovery sweep", report), true))),
            Effect.flatMap((stalled) => {
              outage = false
              readAgainSaid = false
              return Effect.logInfo(`recovery sweep: the database answers again${stalled ? "" : "; no run to stall"} (the sweep's stall went through)`)
            })
          )
      // The same wait after this process was paused (SIGSTOP, a machine asleep, an event loop
      // blocked by a program): its own runs could not beat either, and the sweep's timer may fire
      // before their heartbeats' — it would stall its own live runs. Other processes' sweeps stall a
      // paused process's runs as before; this one gives its own a threshold to be heard again.
      const afterPause = (threshold: Duration.Duration, late: Duration.Duration) =>
        Effect.flatMap(DateTime.now, (woke) =>
          Effect.zipRight(
            Effect.logWarning(
              `recovery sweep: woke ${Duration.format(late)} late (this process was paused or its event loop blocked); ` +
                `runs not heard from since are stalled in ${Duration.format(threshold)} if still silent`
            ),
            stallSilentSince(store, { retries: 0, ...scan }, woke, threshold, "sweep", "recovery sweep")
          ))
      const sweep = (threshold: Duration.Duration, late: Duration.Duration | undefined) =>
        Effect.suspend(() =>
          outage
            ? afterOutage(threshold)
            : late !== undefined
            ? afterPause(threshold, late)
            : Effect.flatMap(sweepStalledRuns({ retries: 0, ...scan }), (report) => logStalled("recovery sweep", report))
        ).pipe(
          Effect.catchAllCause((cause) => {
            outage = true
            return Effect.logWarning("recovery sweep failed; trying again at the next interval", cause)
          })
        )
      // How much later than the interval the sleep ended, when more than PAUSE_SLACK_MS: on the
      // monotonic clock and on the wall clock (a machine asleep stops the one, not the other).
      const sleepInterval = Effect.gen(function*() {
        const clock = yield* Effect.clock
        const [nanos, millis] = [clock.unsafeCurrentTimeNanos(), clock.unsafeCurrentTimeMillis()]
        yield* sleep(interval)
        const slept = Math.max(Number(clock.unsafeCurrentTimeNanos() - nanos) / 1e6, clock.unsafeCurrentTimeMillis() - millis)
        const late = slept - Duration.toMillis(interval)
        return late > PAUSE_SLACK_MS ? Duration.millis(Math.round(late)) : undefined
      })
      yield* Deferred.await(succeeded).pipe(
        Effect.flatMap((report) => Effect.forever(Effect.flatMap(sleepInterval, (late) => sweep(report.threshold, late)))),
        Effect.ignore,
        Effect.forkScoped
      )
    }
    // Waits for the first try; then the report, or the last failure while no try has succeeded (intake closed).
    const result = Deferred.await(firstTried).pipe(
      Effect.zipRight(Deferred.poll(succeeded)),
      Effect.flatMap(Option.getOrElse(() => Effect.fail(lastFailure!)))
    )
    const status = Effect.map(Effect.all([Deferred.isDone(succeeded), Deferred.isDone(firstTried)]), ([ok, tried]): RecoveryStatus =>
      ok ? "finished" : tried ? "failed" : "running")
    return RecoveryGate.of({ await: Effect.asVoid(result), result, status, threshold: readThreshold(scan.threshold) })
  }))

/**
 * How much later than its interval a sweep may wake before it counts as a
 * pause of this process: timers on a busy event loop run late by
 * milliseconds, a process stopped or a machine asleep by seconds or more.
 */
const PAUSE_SLACK_MS = 2000

/** An open gate, for applications (and tests) that run recovery themselves or not at all. */
export const layerNoStartupRecovery: Layer.Layer<RecoveryGate> = Layer.succeed(RecoveryGate, RecoveryGate.of({
  await: Effect.void,
  result: Effect.succeed({ recovered: [], threshold: DEFAULT_THRESHOLD }),
  status: Effect.succeed("finished"),
  threshold: DEFAULT_THRESHOLD
}))
