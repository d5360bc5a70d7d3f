/**
 * The Flight Recorder (R10–R14): a validated, privacy-filtered, append-only
 * event log on top of the `JobStore` sink.
 *
 * Services build events with `makeEvent`, turn them into records with
 * `prepare` (which fails before any write when an event is invalid) and pass
 * the records to the store's `events` options, so a change and its audit event
 * commit together. `record`/`recordMany` are for events that stand alone.
 *
 * Errors: `InvalidEvent` (HSK-400-INVALID-EVENT), `EventTooLarge`, and the
 * store's own errors unchanged — a sink failure is the store's `StorageError`,
 * whose `code` is already HSK-500-DB (R10); wrapping it again would only hide
 * the tag callers already handle everywhere else.
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { DecodeFailure, formatIssues } from "../../domain/Errors.js"
import { readOptions } from "../../domain/knownOptions.js"
import { boundIssues } from "../../domain/issueBounds.js"
import type { EventRecord, EventType } from "../../domain/EventRecord.js"
import type { FlightEventInput, FlightEventInputOf, JobLifecycleEvent } from "../../domain/FlightEvent.js"
import type { StoredFlightEvent } from "../../domain/LegacyFlightEvent.js"
import { decodeStoredBody } from "../../domain/storedEventBody.js"
import { instantBefore } from "../../domain/Timestamp.js"
import type { JobId, TraceId } from "../../domain/Ids.js"
import { type EventTooLarge, InvalidEvent } from "./Errors.js"
import { makeCheckedBuild } from "./checkedBuild.js"
import { type LibraryEvent, makeBuild } from "./libraryEvents.js"
import { withOwnBuild } from "./ownBuild.js"
import { makePrepare } from "./prepare.js"
import { DEFAULT_MAX_EVENT_BYTES } from "./Privacy.js"
import { uuidv7 } from "../../domain/uuidv7.js"
import { type BatchHandler, tellBatch } from "../../util/batchHandler.js"
import { readDuration } from "../../util/durationInput.js"
import { yieldToEventLoop } from "../../util/yieldToEventLoop.js"
import { withRedactedSpan } from "../redactCause.js"
import * as Redactor from "./Redactor.js"
import { type EventFilter, JobStore, type Page, type ReadError } from "../../store/JobStore.js"
import { type AlreadyExists, CorruptRow, type StorageError } from "../../store/StoreErrors.js"

export { EventTooLarge, InvalidEvent } from "./Errors.js"
export type { StoredFlightEvent } from "../../domain/LegacyFlightEvent.js"
export type { RedactionRule } from "./Redactor.js"
export type { LibraryEvent } from "./libraryEvents.js"

/**
 * Retention window default: 7 days. SPEC 11.5 says 7 days, FR-EVT-004 says
 * "configurable, default 30 days"; we follow the trait's contract (R13) and
 * make it configurable.
 */
export const DEFAULT_RETENTION: Duration.Duration = Duration.days(7)

/** Default number of events deleted per purge transaction: short transactions, bounded locks. */
export const DEFAULT_PURGE_BATCH_SIZE = 1000

/** How the recorder behaves. Every field has a default. */
export interface FlightRecorderConfig {
  /** Events older than this are purged by `enforceRetention`. Default 7 days (R13); `Duration.infinity` keeps every event. */
  readonly retention?: Duration.DurationInput | undefined
  /** Events deleted per purge transaction. Default 1000. */
  readonly purgeBatchSize?: number | undefined
  /** Bound on one event's stored JSON, in UTF-8 bytes. Default 64 KiB (R14). */
  readonly maxEventBytes?: number | undefined
  /**
   * Keep raw content (prompt/response text, terminal output). Default false:
   * such fields are dropped, prompts and responses kept as `sha256:` hashes (R14).
   */
  readonly debug?: boolean | undefined
  /** Redaction rules applied after the defaults (`Redactor.defaultRules`: tokens, keys, URL passwords, named secrets). */
  readonly redactionRules?: ReadonlyArray<Redactor.RedactionRule> | undefined
}

/** The Flight Recorder service. */
export class FlightRecorder extends Context.Tag("@handshake/ai-job-model/FlightRecorder")<FlightRecorder, {
  /**
   * Validates an untrusted event (every problem reported), fills in a missing
   * `trace_id` (the named job's, else a fresh one: a read of that job) and
   * refuses one that is not the named job's (`InvalidEvent` at `trace_id`;
   * a job not stored, pruned or never written, has no trace to contradict),
   * NFC-normalises, redacts, applies the raw-content rule and the size bound,
   * and returns the record a store appends. Writes nothing.
   */
  readonly prepare: (event: unknown) => Effect.Effect<EventRecord, InvalidEvent | EventTooLarge | ReadError>
  /** Prepares and appends one event; a misspelt field does not compile (issue 15.7). */
  readonly record: (event: FlightEventInput) => Effect.Effect<EventRecord, InvalidEvent | EventTooLarge | AlreadyExists | ReadError>
  /** `record` for input nobody has checked: every problem is reported in one `InvalidEvent`, nothing stored. */
  readonly recordUntrusted: (event: unknown) => Effect.Effect<EventRecord, InvalidEvent | EventTooLarge | AlreadyExists | ReadError>
  /** Prepares every event, then appends them in one write: all or nothing. */
  readonly recordMany: (
    events: ReadonlyArray<FlightEventInput>
  ) => Effect.Effect<ReadonlyArray<EventRecord>, InvalidEvent | EventTooLarge | AlreadyExists | ReadError>
  /** `recordMany` for input nobody has checked. */
  readonly recordManyUntrusted: (
    events: ReadonlyArray<unknown>
  ) => Effect.Effect<ReadonlyArray<EventRecord>, InvalidEvent | EventTooLarge | AlreadyExists | ReadError>
  /**
   * The events this library writes itself (lifecycle changes, capability
   * decisions, recoveries, security violations, Janitor summaries), built
   * by their fixed shapes: caller text NFC-normalised, redacted and checked
   * as `prepare` does, the size bound applied. Called here, every field is
   * checked too, as `prepare` checks it, with the same `InvalidEvent` (a
   * state, an actor, a flag, an id, a trace that is not the named job's: a
   * read of the job); a time that is not a `DateTime.Utc` is `InvalidEvent`.
   * Writes nothing.
   */
  readonly build: (event: LibraryEvent) => Effect.Effect<EventRecord, InvalidEvent | EventTooLarge | ReadError>
  /**
   * Lists events (R10), decoded back to typed events: the current shapes, or
   * a `LegacyFlightEvent` stored before them (see LegacyFlightEvent.ts). A
   * stored body that decodes as neither is `CorruptRow`.
   */
  readonly list: (filter?: EventFilter) => Effect.Effect<Page<StoredFlightEvent>, ReadError | DecodeFailure>
  /**
   * Purges events older than `cutoff` (default: now minus the retention
   * window) in batches, and returns how many it purged (R10, R13). A cutoff
   * that is not a `DateTime.Utc` is a `DecodeFailure`. `onBatch` is told each
   * batch's count as it commits, in one uninterruptible step with it: a caller
   * whose purge is interrupted or fails part-way knows what was purged.
   * `events` gives records each batch commits with it (a purge's summary);
   * `lastBatch` runs in the last batch's transaction, and its failure is the
   * purge's, that batch rolled back.
   */
  readonly enforceRetention: <E = never, R = never>(
    options?: RetentionOptions<E, R>
  ) => Effect.Effect<number, DecodeFailure | StorageError | E, R>
  /**
   * The recorder's redaction (default rules plus `redactionRules`) as a text
   * function, so text stored outside events — a job's `status_reason`, an
   * `error_message` — is redacted exactly as the events about it are (R14).
   */
  readonly redact: (text: string) => string
}>() {}

/** The table events live in, for `CorruptRow`. */
const EVENTS_TABLE = "flight_recorder_events"

/** The options `FlightRecorderConfig` names. */
const CONFIG_KEYS: ReadonlyArray<string> = ["retention", "purgeBatchSize", "maxEventBytes", "debug", "redactionRules"]

/** What `enforceRetention` takes; `E` and `R` are `lastBatch`'s. */
export interface RetentionOptions<E = never, R = never> {
  /** Purge events older than this. Default: now minus the retention window. */
  readonly cutoff?: DateTime.Utc | undefined
  /**
   * Told each committed batch's count, before the next batch (and before an interrupt lands): an
   * Effect, or a JS caller's function whose Promise is awaited (util/batchHandler.ts).
   */
  readonly onBatch?: BatchHandler<number> | undefined
  /**
   * The records about a batch, from its count, appended in the batch's own
   * transaction: the batch and its records commit together or not at all, so
   * no kill or failure leaves a purge unrecorded (HSK-GC-004). A batch that
   * purged nothing writes none.
   */
  readonly events?: ((purged: number) => Effect.Effect<ReadonlyArray<EventRecord>>) | undefined
  /**
   * Runs in the last batch's transaction — the short one, which may purge
   * nothing — with its count, in place of `events` for that batch: what it
   * writes (the Janitor's pruning, with the summary that counts the batch)
   * commits with the batch or not at all. It fails, the batch rolls back.
   */
  readonly lastBatch?: ((purged: number) => Effect.Effect<void, E, R>) | undefined
}

/** The options `enforceRetention` names. */
const RETENTION_OPTIONS: ReadonlyArray<string> = ["cutoff", "onBatch", "events", "lastBatch"]

/**
 * What is wrong with `config`, past its types. A `retention` of NaN (an unset
 * environment variable through `Number`) or below zero was read as zero, so
 * the next retention pass purged the whole log; a `maxEventBytes` of NaN
 * bounded nothing; a `purgeBatchSize` of NaN gave batches no database reads;
 * an unreadable duration was a defect from inside `Duration.decode`.
 */
const configIssues = (config: FlightRecorderConfig): ReadonlyArray<{ readonly path: string; readonly message: string }> => [
  ...(config.retention === undefined || Option.isSome(readDuration(config.retention))
    ? []
    : [{ path: "retention", message: "Expected a duration of at least zero (Duration.infinity keeps every event)" }]),
  ...(config.purgeBatchSize === undefined || (Number.isSafeInteger(config.purgeBatchSize) && config.purgeBatchSize >= 1)
    ? []
    : [{ path: "purgeBatchSize", message: "Expected a whole number ≥ 1" }]),
  ...(config.maxEventBytes === undefined || (Number.isSafeInteger(config.maxEventBytes) && config.maxEventBytes >= 1)
    ? []
    : [{ path: "maxEventBytes", message: "Expected a whole number of bytes ≥ 1" }]),
  ...(config.redactionRules === undefined
    ? []
    // Bounded as a decode's issues are: ten thousand rules given as strings are one answer of 51 lines.
    : boundIssues(Redactor.ruleIssues(config.redactionRules).map((issue) => ({ ...issue, path: issue.path === "" ? "redactionRules" : `redactionRules.${issue.path}` }))))
]

/**
 * Builds the recorder over the `JobStore` in context. A configuration past
 * its types (`configIssues`) fails with a `DecodeFailure` naming each option
 * (a caller can `catchTag` it): a recorder that would purge its whole log
 * must not start.
 */
export const make = (given: FlightRecorderConfig = {}): Effect.Effect<FlightRecorder["Type"], DecodeFailure, JobStore> =>
  Effect.gen(function*() {
    // Read once (knownOptions.ts): a misspelt `retension` left the 7-day default in its place (the
    // next pass purged what the caller meant to keep), and a getter or Proxy trap that throws died.
    const read = readOptions(given, CONFIG_KEYS, "FlightRecorderConfig")
    if (read instanceof DecodeFailure) return yield* read
    const config: FlightRecorderConfig = read
    const issues = configIssues(config)
    if (issues.length > 0) return yield* new DecodeFailure({ subject: "FlightRecorderConfig", issues })
    const store = yield* JobStore
    const retention = Duration.decode(config.retention ?? DEFAULT_RETENTION)
    const batchSize = config.purgeBatchSize ?? DEFAULT_PURGE_BATCH_SIZE
    const redactor = Redactor.make({ rules: config.redactionRules ?? [] })
    // The trace of an event's job: an event sent without one joins it, one sent with another is
    // refused. A job that is not (or no longer) there has none: the event gets a fresh trace, as
    // one naming no job does, or keeps its own. Only caller events pay this read (`prepare`, the
    // public `build`): the library's own are built (ownBuild.ts) with their job's trace.
    const jobTraceOf = (jobId: JobId) =>
      store.getJob(jobId).pipe(
        Effect.map((job): TraceId | undefined => job.trace_id),
        // The event's job id already decoded, so a DecodeFailure cannot happen; if it did, there is no job to join.
        Effect.catchTags({ NotFound: () => Effect.succeed(undefined), DecodeFailure: () => Effect.succeed(undefined) })
      )
    const prepareEvent = makePrepare({
      jobTraceOf,
      debug: config.debug ?? false,
      ...(config.maxEventBytes === undefined ? {} : { maxEventBytes: config.maxEventBytes }),
      redactor
    })
    const policy = { redactor, maxEventBytes: config.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES }
    // Two builders, two memos: the library's own (trusting its typed fields), and the public one, which checks a caller's.
    const own = makeBuild(policy)
    const build = makeCheckedBuild(makeBuild(policy), jobTraceOf)
    // A prepared record always decodes at the port; if one ever did not, the
    // event is what is invalid, so it is reported as one.
    const append = (records: ReadonlyArray<EventRecord>) =>
      Effect.catchTag(store.appendEvents(records), "DecodeFailure", (error) =>
        Effect.fail(new InvalidEvent({ event_type: records[0]?.type ?? null, reasons: error.issues })))

    /**
     * `effect` in the span `FlightRecorder.<op>`, which ends with a failure redacted as the events
     * are (R14): an `InvalidEvent` quotes the caller's input (`Expected string, actual
     * {"apiKey":"sk-live-…"}`), and the span handed it raw to every tracer. The caller gets its
     * own error value, untouched.
     */
    const spanned = <A, E, R>(op: string, effect: Effect.Effect<A, E, R>) => withRedactedSpan(effect, `FlightRecorder.${op}`, {}, redactor.redact)

    const prepare = (event: unknown) => spanned("prepare", prepareEvent(event))

    const record = (event: unknown) =>
      spanned("record", Effect.gen(function*() {
        const prepared = yield* prepareEvent(event)
        yield* append([prepared])
        return prepared
      }))

    const recordMany = (events: ReadonlyArray<unknown>) =>
      spanned("recordMany", Effect.gen(function*() {
        if (!Array.isArray(events)) {
          return yield* new InvalidEvent({ event_type: null, reasons: [{ path: "", message: "Expected an array of events" }] })
        }
        // Prepare everything first: one invalid event fails the call before any write.
        const prepared = yield* Effect.forEach(events, prepareEvent)
        if (prepared.length > 0) yield* append(prepared)
        return prepared
      }))

    const decodeRecord = (record: EventRecord): Effect.Effect<StoredFlightEvent, CorruptRow> =>
      Effect.mapError(decodeStoredBody(record.body), (error) =>
        new CorruptRow({ table: EVENTS_TABLE, row_id: record.event_id, column: "body", issues: formatIssues(error) }))

    const list = (filter?: EventFilter) =>
      spanned("list", Effect.gen(function*() {
        const page = yield* store.listEvents(filter)
        const items = yield* Effect.forEach(page.items, decodeRecord)
        return { items, next_cursor: page.next_cursor }
      }))

    const enforceRetention = <E = never, R = never>(options?: RetentionOptions<E, R>) => spanned("enforceRetention", Effect.gen(function*() {
      // A misspelt `cutof` dropped would purge up to the default window instead: refused, nothing purged.
      const read = readOptions(options, RETENTION_OPTIONS, "RetentionOptions")
      if (read instanceof DecodeFailure) return yield* read
      if (read.onBatch !== undefined && typeof read.onBatch !== "function") {
        return yield* new DecodeFailure({ subject: "RetentionOptions", issues: [{ path: "onBatch", message: "Expected a function" }] })
      }
      if (read.events !== undefined && typeof read.events !== "function") {
        return yield* new DecodeFailure({ subject: "RetentionOptions", issues: [{ path: "events", message: "Expected a function" }] })
      }
      if (read.lastBatch !== undefined && typeof read.lastBatch !== "function") {
        return yield* new DecodeFailure({ subject: "RetentionOptions", issues: [{ path: "lastBatch", message: "Expected a function" }] })
      }
      const now = yield* DateTime.now
      // A purge never needs a cutoff later than now (the databases refuse such a grant, migration 0028):
      // refused, nothing purged. Not a DateTime at all: the store's decode names it.
      if (read.cutoff !== undefined && DateTime.isDateTime(read.cutoff) && DateTime.greaterThan(read.cutoff, now)) {
        return yield* new DecodeFailure({ subject: "RetentionOptions", issues: [{ path: "cutoff", message: "Expected an instant no later than now: a purge never deletes events newer than itself" }] })
      }
      // instantBefore: a window too long for a date (infinite: keep everything)
      // gives a cutoff before every event, where subtracting it threw.
      const before = read.cutoff ?? instantBefore(now, retention)
      // The window asked, by this clock: what the horizon records as the policy's, should the
      // database's clock cap the cutoff (the store records the cutoff it applied beside it).
      const window = DateTime.isDateTime(before)
        ? Duration.millis(Math.max(0, DateTime.toEpochMillis(now) - DateTime.toEpochMillis(before)))
        : undefined
      let purged = 0
      let batches = 0
      const onBatch = read.onBatch
      const events = read.events
      const lastBatch = read.lastBatch
      // A fresh record's id already taken is a bug, not a caller's error.
      const record = (deleted: number) =>
        deleted === 0 || events === undefined
          ? Effect.void
          : Effect.flatMap(events(deleted), (records) => Effect.catchTag(store.appendEvents(records), "AlreadyExists", Effect.die))
      // With `events` or `lastBatch`, the batch and what they write are one transaction (the batch, and the
      // store methods `lastBatch` calls, join it); a short batch is the last.
      const purgeBatch: Effect.Effect<number, DecodeFailure | StorageError | E, R> = events === undefined && lastBatch === undefined
        ? store.purgeEventsBatch({ before, batchSize, window })
        : store.transaction(Effect.tap(
          store.purgeEventsBatch({ before, batchSize, window }),
          (deleted): Effect.Effect<void, DecodeFailure | StorageError | E, R> => deleted < batchSize && lastBatch !== undefined ? lastBatch(deleted) : record(deleted)
        ))
      // One short transaction per batch (inside purgeEventsBatch), so a large
      // purge never holds a long lock; a short batch means nothing older is left.
      // A batch is not interrupted: interrupted at its COMMIT, whether its rows went would
      // be unknown, and a caller told of every batch (the Janitor's summary) would miscount.
      while (true) {
        const deleted = yield* Effect.uninterruptible(onBatch === undefined ? purgeBatch : Effect.tap(purgeBatch, (n) => tellBatch(onBatch, n)))
        purged += deleted
        batches += 1
        if (deleted < batchSize) break
        yield* yieldToEventLoop
      }
      yield* Effect.annotateCurrentSpan({
        "hsk.retention.cutoff": DateTime.formatIso(before),
        "hsk.retention.purged": purged,
        "hsk.retention.batches": batches
      })
      return purged
    }))

    return withOwnBuild(FlightRecorder.of({
      prepare,
      build,
      record,
      recordUntrusted: record,
      recordMany,
      recordManyUntrusted: recordMany,
      list,
      enforceRetention,
      redact: redactor.redact
    }), own)
  })

/** The recorder as a layer over the `JobStore` in context. */
export const layer = (config: FlightRecorderConfig = {}): Layer.Layer<FlightRecorder, DecodeFailure, JobStore> =>
  Layer.effect(FlightRecorder, make(config))

/** The recorder configured from Effect `Config` (e.g. environment variables). */
export const layerConfig = (
  config: Config.Config.Wrap<FlightRecorderConfig>
): Layer.Layer<FlightRecorder, ConfigError.ConfigError | DecodeFailure, JobStore> =>
  Layer.effect(FlightRecorder, Effect.flatMap(Config.unwrap(config), make))

/** `Omit` of each member of a union (`system` has two shapes). */
type OmitEach<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

/** The fields a caller supplies to `makeEvent`: the event minus `type`, with `event_id`/`timestamp` optional. */
export type EventFields<T extends EventType> =
  & OmitEach<FlightEventInputOf<T>, "type" | "event_id" | "timestamp">
  & { readonly event_id?: string; readonly timestamp?: string }

/**
 * Builds an event of `type` (JSON form, ready for `prepare`/`record`) with a
 * fresh `event_id` and the Clock's time unless given.
 */
export const makeEvent = <T extends EventType>(type: T, fields: EventFields<T>): Effect.Effect<FlightEventInputOf<T>> =>
  Effect.map(DateTime.now, (now) => ({
    event_id: uuidv7(),
    timestamp: DateTime.formatIso(now),
    ...fields,
    type
  }) as unknown as FlightEventInputOf<T>)

/** A `system` event for one job lifecycle change; `actor` defaults to `system`, `from_state` null at creation. */
export const systemEvent = (
  fields:
    & Omit<typeof JobLifecycleEvent.Encoded, "type" | "event_id" | "timestamp" | "actor">
    & { readonly event_id?: string; readonly timestamp?: string; readonly actor?: typeof JobLifecycleEvent.Encoded["actor"] }
): Effect.Effect<typeof JobLifecycleEvent.Encoded> =>
  makeEvent("system", { ...fields, actor: fields.actor ?? "system" }) as Effect.Effect<typeof JobLifecycleEvent.Encoded>

