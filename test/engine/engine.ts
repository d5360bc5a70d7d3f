/**
 * The engine's application, as a user composes it, over one shared database:
 * Jobs with a retry policy and the dialect's wake-up (LISTEN/NOTIFY on
 * PostgreSQL, in process on SQLite) — or none.
 */
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { RetryPolicyInput } from "../../src/domain/RetryPolicy.js"
import * as Jobs from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as WakeUp from "../../src/WakeUp.js"
import type { DecodeFailure } from "../../src/domain/Errors.js"
import type { StorageError } from "../../src/store/StoreErrors.js"
import { services } from "../jobs/services.js"
import { realSleep, type SharedDatabase } from "../jobs/shared-database.js"

export type Wake = "dialect" | "poll"

/** Jobs (and its store and wake-up) on `database`, closed with the scope. */
export const engineOn = (
  database: SharedDatabase,
  options: {
    readonly retry?: RetryPolicyInput
    readonly wake?: Wake
    readonly maxConnections?: number
    /** Where the PostgreSQL wake-up listens, when not on the database's own URL (a URL with parameters of its own, a proxy). */
    readonly listenUrl?: string
    /** Wraps the wake-up service Jobs gets (a test that watches how Jobs uses it). */
    readonly wrapWake?: (wakeUp: WakeUp.WakeUp["Type"]) => WakeUp.WakeUp["Type"]
    /** Wraps the store Jobs gets (a test that watches how Jobs uses it). */
    readonly wrapStore?: (store: JobStore["Type"]) => JobStore["Type"]
  } = {}
): Effect.Effect<{ readonly jobs: Jobs.Jobs["Type"]; readonly store: JobStore["Type"]; readonly wakeUp: WakeUp.WakeUp["Type"] }, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const opened = yield* database.store(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {})
    const store = options.wrapStore === undefined ? opened : options.wrapStore(opened)
    const pg = database.url.startsWith("postgres")
    const dialectWake = options.wake === "poll"
      ? WakeUp.layerPollOnly
      : pg ? WakeUp.layerPg({ listenUrl: options.listenUrl ?? database.url, reconnectDelay: "100 millis" }) : WakeUp.layerInProcess
    const wrap = options.wrapWake
    const wake = wrap === undefined
      ? dialectWake
      : Layer.map(dialectWake, (built) => Context.add(built, WakeUp.WakeUp, wrap(Context.get(built, WakeUp.WakeUp))))
    const context = yield* Layer.build(
      services(Layer.succeed(JobStore, store), Recovery.layerNoStartupRecovery, wake, options.retry !== undefined ? { retry: options.retry } : {})
    )
    const wakeUp = Context.get(context, WakeUp.WakeUp)
    yield* wakeUp.ready
    return { jobs: Context.get(context, Jobs.Jobs), store, wakeUp }
  })

/**
 * Whether an idle one-loop pool of `jobs` (polling every `pollInterval`)
 * starts the `doc_summarize` job `submit` queues within 10 s. The pool first
 * looks, finds nothing and goes idle (300 ms of real time), so only a
 * wake-up (or a short poll) can start it that soon.
 */
export const idlePoolStarts = <E, R>(
  jobs: Jobs.Jobs["Type"],
  submit: Effect.Effect<unknown, E, R>,
  pollInterval: Duration.DurationInput = "30 seconds"
): Effect.Effect<boolean, E | StorageError | DecodeFailure, R | Scope.Scope> =>
  Effect.gen(function*() {
    const started = yield* Deferred.make<void>()
    yield* jobs.worker({ concurrency: 1, pollInterval, handlers: { doc_summarize: () => Deferred.succeed(started, undefined) } })
    yield* realSleep(300)
    yield* submit
    return Option.isSome(yield* Deferred.await(started).pipe(Effect.timeoutOption("10 seconds")))
  })
