/**
 * WakeUp (issue 15.3): how idle workers, runs and callers awaiting a job hear
 * that a job changed, instead of waiting for their next poll.
 *
 * - **PostgreSQL** (`layerPg`): migration 0007's trigger announces every new
 *   job and every state change with `pg_notify`, in the writing transaction,
 *   so the announcement is delivered at commit, to every process, whoever
 *   wrote. This layer LISTENs on a connection of its own — its own URL, since
 *   PgBouncer in transaction mode cannot hold a `LISTEN` (point `listenUrl`
 *   straight at the server or at a session-mode pool). `Jobs` also announces
 *   the jobs it queued in process, once committed, so this process's idle
 *   workers start at once, without waiting for the NOTIFY to come back.
 * - **SQLite** (`layerInProcess`): there is no cross-process channel; `Jobs`
 *   announces its own changes after they commit, which wakes this process's
 *   workers at once. Other processes find the work at their next poll.
 * - **None** (`layerPollOnly`): workers poll. `Jobs.layer()` requires one of
 *   these, provided to it, so forgetting it (or merging it beside Jobs) is a
 *   compile error rather than a silently polling engine.
 *
 * Whatever the mode, polling stays on as the fallback, so a lost
 * announcement (a dropped listener connection) costs at most one poll
 * interval, never a job.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import { DecodeFailure } from "../../domain/Errors.js"
import type { JobId } from "../../domain/Ids.js"
import { unknownOptions } from "../../domain/knownOptions.js"
import type { JobKind } from "../../domain/JobKind.js"
import type { JobState } from "../../domain/JobState.js"
import { JobWatchers, type OnSignal } from "./jobWatchers.js"
import { clientTimeouts } from "../../store/pg/clientTimeouts.js"
import { listen } from "./pgListener.js"
import type { RecentClaims } from "./recentClaims.js"
import type { JobChanged, Signal } from "./signal.js"
import { sleepMillis } from "../../util/clockSleep.js"
import { readDuration } from "../../util/durationInput.js"

export type { JobChanged, LookAgain, Signal } from "./signal.js"
export { CHANNEL } from "./pgListener.js"

/** A subscription to wake-up signals, from the moment it was taken. */
export type Subscription = Queue.Dequeue<Signal>

/** The WakeUp service. */
export class WakeUp extends Context.Tag("@handshake/ai-job-model/WakeUp")<WakeUp, {
  /** `listen`: the database announces every change; `in-process`: this process's own changes; `poll`: nothing. */
  readonly mode: "listen" | "in-process" | "poll"
  /**
   * Announces a change this process committed to this process's waiters, at
   * once. `in-process`: every change. `listen`: a job queued (what an idle
   * worker waits for), so this process's workers do not wait for the NOTIFY's
   * round trip; the database's own announcement follows at commit, to every
   * process, this one included — a worker pool skips that second one for a
   * job it claimed (RecentClaims). Other changes are left to the database's
   * announcement alone. `poll`: nothing.
   */
  readonly announce: (change: Omit<JobChanged, "_tag">) => Effect.Effect<void>
  /** Signals from now until the scope closes. Take it before looking, so nothing between is missed. */
  readonly subscribe: Effect.Effect<Subscription, never, Scope.Scope>
  /**
   * Calls `onSignal`, synchronously, with each signal about job `jobId` (and
   * each "look again") from now on, until the returned function is called: a
   * run's watch over its job without a subscription (jobWatchers.ts). Not an
   * Effect, so registering costs nothing on the way to the run's program.
   */
  readonly watchJob: (jobId: JobId, onSignal: OnSignal) => () => void
  /**
   * Calls `onSignal`, synchronously, with every signal from now on, until the
   * returned function is called: a worker pool's doorbell (workBell.ts), which
   * wakes an idle loop without a subscription fiber. Not an Effect.
   */
  readonly watchWork: (onSignal: OnSignal) => () => void
  /** Completes once signals flow: at once in-process; on PostgreSQL when the first LISTEN is in place. */
  readonly ready: Effect.Effect<void>
}>() {}

const make = (mode: WakeUp["Type"]["mode"]) =>
  Effect.gen(function*() {
    const hub = yield* Effect.acquireRelease(PubSub.unbounded<Signal>(), PubSub.shutdown)
    const watchers = new JobWatchers()
    const pools = new Set<OnSignal>()
    // To every subscription, every pool's doorbell and the job's watchers, at once (an unbounded hub never refuses one).
    const publish = (signal: Signal) => {
      hub.unsafeOffer(signal)
      for (const onSignal of pools) onSignal(signal)
      watchers.deliver(signal)
    }
    const ready = yield* Deferred.make<void>()
    if (mode !== "listen") yield* Deferred.succeed(ready, undefined)
    const service = WakeUp.of({
      mode,
      announce: (change) =>
        mode === "in-process" || (mode === "listen" && change.state === "queued")
          ? Effect.sync(() => publish({ _tag: "JobChanged", ...change }))
          : Effect.void,
      subscribe: PubSub.subscribe(hub),
      watchJob: (jobId, onSignal) => watchers.watch(jobId, onSignal),
      watchWork: (onSignal) => {
        // Its own entry, so the same callback registered twice is two registrations.
        const entry: OnSignal = (signal) => onSignal(signal)
        pools.add(entry)
        return () => void pools.delete(entry)
      },
      ready: Deferred.await(ready)
    })
    return { service, publish, ready }
  })

/** In-process wake-up: `Jobs` announces its own committed changes (SQLite). */
export const layerInProcess: Layer.Layer<WakeUp> = Layer.scoped(WakeUp, Effect.map(make("in-process"), (made) => made.service))

/** No wake-up: workers poll, awaiting callers re-read. For processes that run no worker (a CLI, an HTTP API) or cannot LISTEN. */
export const layerPollOnly: Layer.Layer<WakeUp> = Layer.scoped(WakeUp, Effect.map(make("poll"), (made) => made.service))

/** Options of `layerPg`. */
export interface PgOptions {
  /**
   * Where the listener connects: a session connection (directly to the
   * server, or a PgBouncer pool in session mode). `null`: no listener at all,
   * the engine polls — for a deployment that only has a transaction-mode pool.
   */
  readonly listenUrl: string | null
  /** Wait before connecting again after the listener's connection was lost. Default 1 s. */
  readonly reconnectDelay?: Duration.DurationInput | undefined
}

/**
 * PostgreSQL wake-up: LISTENs on `listenUrl` in a fiber of the layer's scope
 * (closing the scope closes the connection). Building the layer does not wait
 * for the connection: until it listens, and whenever it has lost its
 * connection, the engine polls. The URL's `statement_timeout` and
 * `connect_timeout` are read as the store reads them (store/pg/clientTimeouts.ts).
 */
export const layerPg = (options: PgOptions): Layer.Layer<WakeUp> => {
  const refused = pgOptionsRefusal(options)
  // A layer with no error channel: bad options are the caller's defect, at start-up.
  if (refused !== undefined) return Layer.die(refused)
  if (options.listenUrl === null) return layerPollOnly
  const connection = clientTimeouts(options.listenUrl)
  if (Either.isLeft(connection)) {
    return Layer.die(new DecodeFailure({ subject: "WakeUpOptions", issues: [{ path: "listenUrl", message: connection.left }] }))
  }
  return Layer.scoped(
      WakeUp,
      Effect.gen(function*() {
        const { publish, ready, service } = yield* make("listen")
        yield* Effect.forkScoped(listen({
          connection: connection.right,
          emit: publish,
          listening: ready,
          reconnectDelay: Duration.decode(options.reconnectDelay ?? Duration.seconds(1))
        }))
        return service
      })
    )
}

/**
 * What is wrong with `options`, past their types: a misspelt key (dropped, so
 * a misspelt `listenUrl` listened on the default), or a `reconnectDelay` the
 * parser reads as zero although it is none ("-1 seconds": reconnecting in a
 * tight loop) or cannot read at all (a defect inside the listener's fiber).
 */
const pgOptionsRefusal = (options: PgOptions): DecodeFailure | undefined =>
  unknownOptions(options, ["listenUrl", "reconnectDelay"], "WakeUpOptions") ??
    (options.reconnectDelay === undefined || Option.isSome(readDuration(options.reconnectDelay))
      ? undefined
      : new DecodeFailure({
        subject: "WakeUpOptions",
        issues: [{ path: "reconnectDelay", message: "Expected a duration of at least zero (e.g. \"1 second\")" }]
      }))

/**
 * The wake-up for the database a URL names, as `DatabaseUrl.layerFromUrl` reads
 * it: LISTEN on PostgreSQL (on `listenUrl` when given — a session connection
 * past a transaction-mode PgBouncer — `null` for none: poll only); in process
 * for a SQLite path.
 */
export const layerFromUrl = (url: string, options: { readonly listenUrl?: string | null | undefined } = {}): Layer.Layer<WakeUp> => {
  const refused = unknownOptions(options, ["listenUrl"], "WakeUpOptions")
  if (refused !== undefined) return Layer.die(refused)
  return /^postgres(ql)?:\/\//i.test(url)
    ? layerPg({ listenUrl: options.listenUrl === undefined ? url : options.listenUrl })
    : layerInProcess
}

/**
 * Waits, on `subscription`, until a job of one of `kinds` (any kind when
 * absent) may be claimable: one was queued and its time has come, or comes
 * while waiting (a scheduled or retried job: the wait is on Effect's `Clock`),
 * or announcements may have been missed. Signals that arrived while the caller
 * was busy count: they were queued on the subscription. A job in `claims`
 * (the caller claimed it already) is no work.
 */
export const awaitWork = (
  subscription: Subscription,
  kinds?: ReadonlySet<JobKind>,
  claims?: RecentClaims
): Effect.Effect<void> =>
  Effect.flatMap(Queue.take(subscription), (signal) => {
    if (signal._tag === "LookAgain") return Effect.void
    if (
      claims?.claimed(signal) === true || signal.state !== "queued" ||
      (kinds !== undefined && !kinds.has(signal.job_kind))
    ) {
      return awaitWork(subscription, kinds, claims)
    }
    return Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const wait = signal.run_after - now
      if (wait <= 0) return Effect.void
      // Eligible later: wake then, unless something else wakes us first.
      return Effect.raceFirst(sleepMillis(wait), awaitWork(subscription, kinds, claims))
    })
  })

/**
 * Waits, on `subscription`, for an announcement that job `jobId` changed (to
 * a state `wanted` accepts), or that announcements may have been missed: the
 * caller reads the job again either way.
 */
export const awaitChange = (
  subscription: Subscription,
  jobId: JobId,
  wanted: (state: JobState) => boolean = () => true
): Effect.Effect<void> =>
  Effect.flatMap(Queue.take(subscription), (signal) =>
    signal._tag === "LookAgain" || (signal.job_id === jobId && wanted(signal.state))
      ? Effect.void
      : awaitChange(subscription, jobId, wanted))
