/**
 * The Janitor (R18): garbage collection as the reference runs it
 * (storage/retention.rs, HSK-GC-001..004). One pass enforces the Flight
 * Recorder's retention, then prunes old jobs — `completed`,
 * `completed_with_issues`, `cancelled`, `poisoned` and `failed` ones, never
 * pinned ones (HSK-GC-002), always keeping the newest `keepNewest` — and
 * records what it did as `gc_summary` system events (HSK-GC-003), each
 * committed with what it counts, so no purge or pruning goes unrecorded
 * however the pass ends, a killed process included (HSK-GC-004): a full
 * retention batch with a summary of its own, the last (short) batch with the
 * pruning and its summary. A pass that purges less than a batch writes one
 * summary.
 *
 * `layer` runs a pass when it is built and then every `interval` (default
 * one hour), in the layer's scope: closing the scope interrupts it. A failed
 * pass is logged and the schedule goes on, as in the reference.
 */
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { DecodeFailure, type DecodeIssue } from "./domain/Errors.js"
import { unknownOptions } from "./domain/knownOptions.js"
import { FlightRecorder } from "./FlightRecorder.js"
import { ownBuild } from "./internal/flight/ownBuild.js"
import { withServiceSpan } from "./internal/flight/serviceSpan.js"
import { JobStore, type PruneReport, type ReadError } from "./store/JobStore.js"
import { type BatchHandler, tellBatch } from "./util/batchHandler.js"
import { sleep } from "./util/clockSleep.js"
import { readDuration } from "./util/durationInput.js"
import { yieldToEventLoop } from "./util/yieldToEventLoop.js"

/** How often the scheduled passes run by default: hourly, as the reference's Janitor. */
export const DEFAULT_INTERVAL: Duration.Duration = Duration.hours(1)

/** Jobs last updated longer ago than this are pruned by default (the reference's 30-day result window). */
export const DEFAULT_PRUNE_AGE: Duration.Duration = Duration.days(30)

/** The newest prunable jobs kept by default, however old. */
export const DEFAULT_KEEP_NEWEST = 100

/**
 * The most jobs one pruning transaction deletes, as retention's batch of events: on SQLite a
 * prune holds the write lock only this long at a time, so workers and submits get turns.
 */
export const DEFAULT_PRUNE_BATCH = 1000

/** How the Janitor prunes. Every field has a default. */
export interface JanitorConfig {
  /** Time between scheduled passes. Default one hour. */
  readonly interval?: Duration.DurationInput | undefined
  /** Prune jobs last updated longer ago than this. Default 30 days. */
  readonly olderThan?: Duration.DurationInput | undefined
  /** Always keep the newest this many unpinned prunable jobs. Default 100. */
  readonly keepNewest?: number | undefined
  /** Count, delete nothing and record nothing. Default false. */
  readonly dryRun?: boolean | undefined
  /** The most jobs one pruning transaction deletes. Default `DEFAULT_PRUNE_BATCH`. */
  readonly pruneBatchSize?: number | undefined
}

/** What one pass did: the prune counts, its cutoff, and the events its retention purged (absent in a dry run). */
export interface JanitorReport extends PruneReport {
  readonly dry_run: boolean
  readonly cutoff: DateTime.Utc
  readonly events_purged?: number
}

/** Why a pass failed: the database, a row that did not decode, or an option the port refused. */
export type JanitorError = ReadError | DecodeFailure

/** The scheduled passes so far. */
export interface JanitorState {
  /** Scheduled passes finished, failed ones included. */
  readonly passes: number
  /** How the last scheduled pass ended. */
  readonly last: Option.Option<Exit.Exit<JanitorReport, JanitorError>>
}

/** The Janitor service. */
export class Janitor extends Context.Tag("@handshake/ai-job-model/Janitor")<Janitor, {
  /** One pass now (waits for a scheduled one in progress). */
  readonly runOnce: Effect.Effect<JanitorReport, JanitorError>
  /** The scheduled passes so far. */
  readonly state: Effect.Effect<JanitorState>
  /** The state now and after every scheduled pass. */
  readonly changes: Stream.Stream<JanitorState>
}>() {}

/**
 * Prunes jobs last updated before `olderThan` in batches of at most
 * `batchSize` jobs (default `DEFAULT_PRUNE_BATCH`), each its own short
 * transaction committed with a `gc_summary` event of its counts, as
 * retention's batches are: a full batch's summary counts the jobs it pruned,
 * the last (short) one's also those spared, so the summaries add up to the
 * report, and a prune cut short between batches (a killed process) leaves no
 * pruned job in no summary; run again, it prunes the rest. `onBatch` is told
 * each batch's counts as it commits, and finishes (a Promise it returns is
 * awaited) before the next batch starts; a throw, rejection or defect of it
 * ends the prune there (util/batchHandler.ts). Dry runs count in one read and write
 * nothing. `eventsPurged` is the first summary's `events_purged`: what the
 * retention batch committed with it purged, if any. Inside a caller's
 * transaction the batches join it.
 */
export const prune = (options: {
  readonly olderThan: DateTime.Utc
  readonly keepNewest: number
  readonly dryRun?: boolean | undefined
  readonly eventsPurged?: number | undefined
  readonly batchSize?: number | undefined
  readonly onBatch?: BatchHandler<PruneReport> | undefined
  /** Who prunes, as its summaries record it: `system` (the default, the scheduled pass) or `human` (an operator's prune). */
  readonly actor?: "system" | "human" | undefined
}) => withServiceSpan("Janitor.prune", Effect.gen(function*() {
  // Checked before anything is read or pruned: a misspelt key, or an `eventsPurged` no summary
  // can hold (NaN, -5, 1.5), was a defect from inside the summary's build, after the scan.
  const unknown = unknownOptions(options ?? null, PRUNE_OPTIONS, "Janitor.prune")
  if (unknown !== undefined) return yield* unknown
  const issues = [
    dryRunIssue(options.dryRun),
    options.eventsPurged === undefined || (Number.isSafeInteger(options.eventsPurged) && options.eventsPurged >= 0)
      ? undefined
      : { path: "eventsPurged", message: "Expected a whole number ≥ 0" },
    options.batchSize === undefined || (Number.isSafeInteger(options.batchSize) && options.batchSize >= 1)
      ? undefined
      : { path: "batchSize", message: "Expected a whole number ≥ 1" },
    options.onBatch === undefined || typeof options.onBatch === "function"
      ? undefined
      : { path: "onBatch", message: "Expected a function" },
    options.actor === undefined || options.actor === "system" || options.actor === "human"
      ? undefined
      : { path: "actor", message: "Expected \"system\" or \"human\"" }
  ].filter((issue): issue is DecodeIssue => issue !== undefined)
  if (issues.length > 0) return yield* new DecodeFailure({ subject: "Janitor.prune", issues })
  const dry_run = options.dryRun ?? false
  const batchSize = options.batchSize ?? DEFAULT_PRUNE_BATCH
  let report: PruneReport = NOTHING_PRUNED
  let batches = 0
  while (true) {
    const batch = yield* pruneBatch({
      olderThan: options.olderThan,
      keepNewest: options.keepNewest,
      dryRun: dry_run,
      batchSize,
      eventsPurged: batches === 0 ? options.eventsPurged : undefined,
      actor: options.actor ?? "system"
    })
    batches += 1
    yield* tellBatch(options.onBatch, batch)
    report = addCounts(report, batch)
    if (dry_run || batch.pruned < batchSize) break
    yield* yieldToEventLoop
  }
  yield* Effect.annotateCurrentSpan({ "hsk.gc.scanned": report.scanned, "hsk.gc.pruned": report.pruned })
  return {
    ...report,
    dry_run,
    cutoff: options.olderThan,
    ...(options.eventsPurged === undefined ? {} : { events_purged: options.eventsPurged })
  } satisfies JanitorReport
}))

/**
 * One pruning batch (`JobStore.pruneJobs` with `batchSize`) and its `gc_summary`, written by the
 * store in the batch's transaction (HSK-GC-004); a dry run is one count and writes neither. Not
 * interrupted once begun: interrupted at its COMMIT, whether its jobs went would be unknown.
 */
const pruneBatch = (options: {
  readonly olderThan: DateTime.Utc
  readonly keepNewest: number
  readonly dryRun: boolean
  readonly batchSize: number
  readonly eventsPurged: number | undefined
  readonly actor: "system" | "human"
}) =>
  Effect.flatMap(Effect.all([JobStore, FlightRecorder]), ([store, recorder]) =>
    Effect.uninterruptible(store.pruneJobs({
      olderThan: options.olderThan,
      keepNewest: options.keepNewest,
      dryRun: options.dryRun,
      ...(options.dryRun ? {} : { batchSize: options.batchSize }),
      events: (counts) => Effect.map(gcSummary(recorder, counts, options.dryRun, options.eventsPurged, options.actor), (summary) => [summary])
    })))

/** Two reports' counts added: the batches of one prune. */
const addCounts = (a: PruneReport, b: PruneReport): PruneReport => ({
  scanned: a.scanned + b.scanned,
  pruned: a.pruned + b.pruned,
  spared_pinned: a.spared_pinned + b.spared_pinned,
  spared_window: a.spared_window + b.spared_window
})

/** The `gc_summary` record of a pass's counts; built here from counts, so an invalid one is a bug, not bad input. */
const gcSummary = (
  recorder: FlightRecorder["Type"],
  counts: { readonly scanned: number; readonly pruned: number; readonly spared_pinned: number; readonly spared_window: number },
  dry_run: boolean,
  eventsPurged: number | undefined,
  actor: "system" | "human" = "system"
) =>
  Effect.orDie(ownBuild(recorder)({
    kind: "gc_summary",
    ...(actor === "system" ? {} : { actor }),
    items_scanned: counts.scanned,
    items_pruned: counts.pruned,
    items_spared_pinned: counts.spared_pinned,
    items_spared_window: counts.spared_window,
    dry_run,
    ...(eventsPurged === undefined ? {} : { events_purged: eventsPurged })
  }))

/** No job scanned or pruned: the counts of a summary that records a purge alone. */
const NOTHING_PRUNED = { scanned: 0, pruned: 0, spared_pinned: 0, spared_window: 0 }

/**
 * Why `dryRun` is refused, or undefined. Only `true` and `false` (or leaving it out) say what a
 * pass may do: read by truthiness or defaulted, `0`, `""` or `null` were a real pass, events
 * purged and jobs deleted.
 */
const dryRunIssue = (dryRun: unknown): DecodeIssue | undefined =>
  dryRun === undefined || typeof dryRun === "boolean" ? undefined : { path: "dryRun", message: "Expected true or false" }

/** The options `prune` names. */
const PRUNE_OPTIONS: ReadonlyArray<string> = ["olderThan", "keepNewest", "dryRun", "eventsPurged", "batchSize", "onBatch", "actor"]

/** The options `purgeEvents` names. */
const PURGE_OPTIONS: ReadonlyArray<string> = ["cutoff", "onBatch"]

/** The options `JanitorConfig` names. */
const CONFIG_KEYS: ReadonlyArray<keyof JanitorConfig> = ["interval", "olderThan", "keepNewest", "dryRun", "pruneBatchSize"]

/** The configuration with its defaults, checked: `DecodeFailure` names what is wrong. */
const resolveConfig = (config: JanitorConfig) =>
  Effect.gen(function*() {
    // A misspelt option would take its default (knownOptions.ts): `dryrun: true` a real pass.
    const unknown = unknownOptions(config, CONFIG_KEYS, "JanitorConfig")
    if (unknown !== undefined) return yield* unknown
    // Read, not decoded: a duration past its type ("banana") is a DecodeFailure, not a defect, and an
    // olderThan of NaN or below zero — which the parser reads as zero, pruning every terminal job past
    // keepNewest — is refused too (util/durationInput.ts). Only `undefined` takes the default: a
    // `null` is a value of the wrong type, refused like any other.
    const interval = readDuration(config.interval === undefined ? DEFAULT_INTERVAL : config.interval).pipe(Option.getOrElse(() => Duration.infinity))
    const olderThan = readDuration(config.olderThan === undefined ? DEFAULT_PRUNE_AGE : config.olderThan).pipe(Option.getOrElse(() => Duration.infinity))
    const keepNewest: unknown = config.keepNewest === undefined ? DEFAULT_KEEP_NEWEST : config.keepNewest
    const dryRun = dryRunIssue(config.dryRun)
    const pruneBatchSize: unknown = config.pruneBatchSize === undefined ? DEFAULT_PRUNE_BATCH : config.pruneBatchSize
    const issues = [
      ...(Number.isSafeInteger(pruneBatchSize) && (pruneBatchSize as number) >= 1 ? [] : [{ path: "pruneBatchSize", message: "Expected a whole number ≥ 1" }]),
      ...(Duration.greaterThan(interval, Duration.zero) && Duration.isFinite(interval) ? [] : [{ path: "interval", message: "Expected a finite duration above zero" }]),
      ...(Duration.isFinite(olderThan) ? [] : [{ path: "olderThan", message: "Expected a finite duration of at least zero" }]),
      ...(Number.isSafeInteger(keepNewest) && (keepNewest as number) >= 0 ? [] : [{ path: "keepNewest", message: "Expected a whole number ≥ 0" }]),
      ...(dryRun === undefined ? [] : [dryRun])
    ]
    if (issues.length > 0) return yield* new DecodeFailure({ subject: "JanitorConfig", issues })
    return { interval, olderThan, keepNewest: keepNewest as number, dryRun: config.dryRun ?? false, pruneBatchSize: pruneBatchSize as number }
  })

type ResolvedConfig = Effect.Effect.Success<ReturnType<typeof resolveConfig>>

/**
 * One pass: retention first (the recorder's own window, in short batches; skipped in a dry run),
 * then pruning. Every batch commits with the `gc_summary` that counts it (HSK-GC-004): a full
 * one — more may follow — with a summary of its own (no jobs scanned or pruned); the last, short
 * one (maybe empty) in the pruning's transaction, counted by the pruning's summary. So whatever
 * ends a pass — an interrupt between batches, a failure (its batch rolls back with its summary),
 * a killed process — every purged event is in a summary, and a pass that purges less than a batch
 * writes one summary, as it always has. Batches and the pruning are not interrupted once begun.
 * The report's `events_purged` is the whole pass's purge.
 */
const pass = (config: ResolvedConfig) =>
  Effect.gen(function*() {
    if (config.dryRun) return yield* pruneNow(config, undefined)
    const recorder = yield* FlightRecorder
    // The pruning's cutoff, read when it first prunes (after the retention's full batches).
    let cutoff: DateTime.Utc | undefined
    let report: PruneReport = NOTHING_PRUNED
    let purged = 0
    // Each pruning batch commits with a retention batch (maybe empty) and one summary of both; a
    // full pruning batch may leave more, so retention runs again (its last batch, usually empty)
    // with the next. Between them the store's lock is free for workers and submits.
    while (true) {
      let pruned: PruneReport | undefined
      purged += yield* recorder.enforceRetention({
        events: (batch) => Effect.map(gcSummary(recorder, NOTHING_PRUNED, false, batch), (summary) => [summary]),
        lastBatch: (batch) =>
          Effect.flatMap(DateTime.now, (now) => {
            cutoff ??= DateTime.subtractDuration(now, config.olderThan)
            return Effect.map(
              pruneBatch({ olderThan: cutoff, keepNewest: config.keepNewest, dryRun: false, batchSize: config.pruneBatchSize, eventsPurged: batch, actor: "system" }),
              (counts) => {
                pruned = counts
              }
            )
          })
      })
      if (pruned === undefined || cutoff === undefined) return yield* Effect.dieMessage("Janitor: retention ended without its last batch")
      report = addCounts(report, pruned)
      if (pruned.pruned < config.pruneBatchSize) break
      yield* yieldToEventLoop
    }
    yield* Effect.annotateCurrentSpan({ "hsk.gc.scanned": report.scanned, "hsk.gc.pruned": report.pruned })
    return { ...report, dry_run: false, cutoff, events_purged: purged } satisfies JanitorReport
  }).pipe(Effect.withSpan("Janitor.runOnce"))

/** Prunes jobs last updated more than the configured age ago, with `eventsPurged` in the summary. */
const pruneNow = (config: ResolvedConfig, eventsPurged: number | undefined) =>
  Effect.flatMap(DateTime.now, (now) =>
    prune({
      olderThan: DateTime.subtractDuration(now, config.olderThan),
      keepNewest: config.keepNewest,
      dryRun: config.dryRun,
      ...(eventsPurged === undefined ? {} : { eventsPurged })
    }))

/**
 * An operator's retention run (`ai-jobs retention`): purges events stored
 * before `cutoff` in batches, as the recorder's retention does, and records
 * each batch in a `gc_summary` of its own — no jobs scanned or pruned, actor
 * `human`, `events_purged` that batch's count — written in the batch's own
 * transaction, so the purge of the audit log is itself in the log
 * (HSK-GC-004) whatever ends it: an interrupt (between batches), a failure
 * (the failed batch rolls back with its summary) or a killed process. A purge
 * of n events writes ceil(n / batch size) summaries; purging nothing records
 * nothing. `onBatch` is told each batch's count as it commits.
 */
export const purgeEvents = (options: {
  readonly cutoff: DateTime.Utc
  readonly onBatch?: BatchHandler<number> | undefined
}) => withServiceSpan("Janitor.purgeEvents", Effect.gen(function*() {
  // A misspelt `cutof` would purge up to the recorder's window instead: refused before anything is purged.
  const unknown = unknownOptions(options ?? null, PURGE_OPTIONS, "Janitor.purgeEvents")
  if (unknown !== undefined) return yield* unknown
  const recorder = yield* FlightRecorder
  return yield* recorder.enforceRetention({
    cutoff: options.cutoff,
    events: (purged) => Effect.map(gcSummary(recorder, NOTHING_PRUNED, false, purged, "human"), (summary) => [summary]),
    ...(options.onBatch === undefined ? {} : { onBatch: options.onBatch })
  })
}))

/** One pass with `config`, without the schedule. */
export const runOnce = (config: JanitorConfig = {}) => Effect.flatMap(resolveConfig(config), pass)

/** Builds the service and starts its schedule in the current scope. */
export const make = (config: JanitorConfig = {}) =>
  Effect.gen(function*() {
    const resolved = yield* resolveConfig(config)
    const context = yield* Effect.context<JobStore | FlightRecorder>()
    const state = yield* SubscriptionRef.make<JanitorState>({ passes: 0, last: Option.none() })
    // One pass at a time, scheduled or asked for.
    const lock = yield* Effect.makeSemaphore(1)
    const once = lock.withPermits(1)(Effect.provide(pass(resolved), context))
    const scheduled = Effect.exit(once).pipe(
      Effect.tap((exit) =>
        Exit.isFailure(exit) ? Effect.logError("Janitor pass failed; the next runs on schedule", exit.cause) : Effect.void),
      Effect.flatMap((exit) => SubscriptionRef.update(state, (s) => ({ passes: s.passes + 1, last: Option.some(exit) })))
    )
    // At once, then every interval after the previous pass ends.
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(scheduled, sleep(resolved.interval))))
    return Janitor.of({ runOnce: once, state: SubscriptionRef.get(state), changes: state.changes })
  })

/** The Janitor, its schedule running in the layer's scope. */
export const layer = (config: JanitorConfig = {}): Layer.Layer<Janitor, DecodeFailure, JobStore | FlightRecorder> =>
  Layer.scoped(Janitor, make(config))
