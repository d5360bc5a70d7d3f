/**
 * The worker pool (`Jobs.worker`): `concurrency` loops that claim a job of
 * the pool's kinds and run it, and a shutdown that drains, then releases what
 * is still running.
 *
 * An idle loop waits for the first of: a wake-up that work of its kinds may
 * be there (WakeUp: LISTEN/NOTIFY on PostgreSQL, in process on SQLite; heard
 * through the pool's doorbell, workBell.ts), its poll interval — a sleep on
 * Effect's `Clock`, so a test drives it with `TestClock` (issue 15.8) — or
 * the pool closing.
 */
import * as Cause from "effect/Cause"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { DecodeFailure } from "../../domain/Errors.js"
import { readOptions } from "../../domain/knownOptions.js"
import type { JobKind } from "../../domain/JobKind.js"
import type { Json } from "../../domain/Json.js"
import type { Claim, JobStore, ReadError } from "../../store/JobStore.js"
import type * as WakeUp from "../wakeUp/wakeUp.js"
import { RecentClaims } from "../wakeUp/recentClaims.js"
import { lookAgain, type Signal } from "../wakeUp/signal.js"
import { type Parked, type Ring, WorkBell } from "../wakeUp/workBell.js"
import { dispatch, type Handlers } from "../engine/handlers.js"
import { redactCause } from "../redactCause.js"
import { type EagerDesk, Inbox, type Seat } from "./eagerDispatch.js"
import { makeFailureStreak } from "./failureStreak.js"
import { type ClaimNote, currentPoolLooks, jobOfLostClaim, type PoolLooks } from "./claimAnswerLost.js"
import { claimCutSaid, type LoopClaims, makeClaimCuts } from "./claimCut.js"
import { type makeRunner, type RunContext, RunLost, type RunOptions } from "./runJob.js"
import { checkPoolOptions, WORKER_OPTIONS } from "./poolOptions.js"
import { currentDrainCut } from "./drainCut.js"
import { checkRunOptions } from "./runOptions.js"
import { makeDrainCuts } from "./settleCut.js"
import { releasedOnClose, serviceClosed, type TrackPool } from "./serviceClose.js"
import type { StorageError } from "../../store/StoreErrors.js"
import { currentLockWaitCut } from "../../store/internal/lockWaitCut.js"
import { sleepMillis } from "../../util/clockSleep.js"
import { sleepRealTime } from "../../util/sleepRealTime.js"

/**
 * How long after the drain time's interrupt shutdown may still wait before
 * the pool warns that programs ignore it: an interruptible program ends at
 * once, its job's release is one write.
 */
const INTERRUPT_GRACE_MS = 1000

/** What every pool takes, whatever its handlers. */
export interface WorkerPoolOptions {
  /** How many jobs run at once. */
  readonly concurrency: number
  /**
   * How long an idle worker waits before looking again when nothing wakes it
   * (with a WakeUp, a submit wakes it at once). A sleep on Effect's `Clock`:
   * under `TestClock`, `TestClock.adjust` drives it. Default 1 s.
   */
  readonly pollInterval?: Duration.DurationInput | undefined
  /**
   * When the pool's scope closes: how long programs already running may take
   * to finish before they are interrupted and their jobs released back to
   * `queued` for another worker. Default 20 s (under the usual 30 s a
   * process manager waits between SIGTERM and SIGKILL). Measured in real
   * time, like lock waits: a `TestClock` never stalls a shutdown.
   */
  readonly drainTimeout?: Duration.DurationInput | undefined
  /**
   * Whether a job submitted in this process while a loop of this pool is
   * idle is created and claimed for it in the submit's own write (eager
   * dispatch: one commit instead of two, never out of turn). Default true.
   */
  readonly eagerDispatch?: boolean | undefined
  readonly run?: RunOptions | undefined
}

/** A pool of workers, for applications that want one: one program per kind, or one for all. */
export type WorkerOptions<E, R> = WorkerPoolOptions & (
  | {
    /** One program per job kind, typed by kind; the pool claims only these kinds (issue 15.4). */
    readonly handlers: Handlers<E, R>
    readonly handler?: never | undefined
    readonly kinds?: never | undefined
  }
  | {
    /** One program for every kind the pool claims. */
    readonly handler: (context: RunContext) => Effect.Effect<Json | void, E, R>
    /** Only claim these kinds. */
    readonly kinds?: ReadonlyArray<JobKind> | undefined
    readonly handlers?: never | undefined
  }
)

export { DEFAULT_DRAIN_TIMEOUT } from "./poolOptions.js"

/**
 * A pooled run that did not succeed, in the process's log — the job is
 * already settled (failed, retried, poisoned, released); this is for whoever
 * watches the workers, as graphile-worker logs a failed task. It was logged
 * at debug level only, so a pool whose runs were taken away by another
 * process's recovery, or whose settling failed on the database, said nothing.
 * A run stopped because the pool closed is the drain's to report.
 */
const reportEnd = (claim: Claim, closing: () => boolean, redact: (text: string) => string) => (cause: Cause.Cause<unknown>): Effect.Effect<void> => {
  if (Cause.isInterruptedOnly(cause) && closing()) return Effect.void
  const failure = Option.getOrUndefined(Cause.failureOption(cause))
  const annotations = { job_id: claim.job.job_id, workflow_run_id: claim.run.id, job_kind: claim.job.job_kind }
  // The program's failure as the job's error_message holds it: redacted (R14), never the raw text.
  // Only this run's own loss: a RunLost of another run (a nested `Jobs.run` of another job) is the program's failure.
  const logged = failure instanceof RunLost && failure.workflow_run_id === claim.run.id && failure.job_id === claim.job.job_id
    ? Effect.logInfo(`worker pool: job ${claim.job.job_id}'s run was taken away (now ${failure.status}); its program was stopped`)
    : Effect.logWarning(`worker pool: job ${claim.job.job_id} (${claim.job.job_kind}) did not complete`, redactCause(cause, redact))
  return Effect.annotateLogs(logged, annotations)
}

type ClaimNext = (options?: { readonly kinds?: ReadonlyArray<JobKind> | undefined }) => Effect.Effect<Claim | null, DecodeFailure | ReadError>
/** The pool's claim of the queue's next job: `note` (its loop's) is told the ids each attempt's statement carries (claimCut.ts). */
type ClaimQueued = (options?: { readonly kinds?: ReadonlyArray<JobKind> | undefined; readonly note?: ClaimNote | undefined }) => Effect.Effect<Claim | null, DecodeFailure | ReadError>

export const makeWorkerPool = (
  claimNext: ClaimQueued,
  runner: ReturnType<typeof makeRunner>,
  wakeUp: WakeUp.WakeUp["Type"] | undefined,
  desk: EagerDesk | undefined,
  /** Takes a run offered to pools (a resume with `handTo: "workers"`), when the store can. */
  adoptOffered: ClaimNext | undefined,
  /** The recorder's redaction: a program's failure is logged as its job stores it. */
  redact: (text: string) => string,
  /** This process's recovery threshold: a `run.heartbeatInterval` at or above it is warned of (runOptions.ts). */
  recoveryThreshold: Duration.Duration,
  /** The service's close (serviceClose.ts): it stops the pool before the store closes. */
  trackPool: TrackPool,
  /** Cancels the store's statements in flight that carry an id, where the store can: claims cut at the drain's end (claimCut.ts). */
  cancelWritesOf?: JobStore["Type"]["cancelWritesOf"]
) =>
<E, R>(given: WorkerOptions<E, R>): Effect.Effect<void, StorageError | DecodeFailure, R | Scope.Scope> =>
  Effect.gen(function*() {
    // Before a loop claims anything (poolOptions.ts): a bad `run.onSuccess` (past the types) would
    // settle every job it runs off the lifecycle table, a NaN concurrency start no loop. Bad
    // options are bad input: a typed DecodeFailure, as every other entry point gives, and nothing
    // started — a getter or Proxy trap that throws too: the options are read once, here, and the
    // pool uses the copy.
    const read = readOptions(given, WORKER_OPTIONS, "WorkerOptions")
    if (read instanceof DecodeFailure) return yield* read
    const run = yield* checkRunOptions(read.run, recoveryThreshold)
    const options = { ...read, run } as WorkerOptions<E, R>
    const settings = yield* checkPoolOptions(options)
    const handler = options.handlers !== undefined ? dispatch(options.handlers) : options.handler
    const kinds = settings.kinds
    const poll = Duration.toMillis(settings.poll)
    const drain = settings.drain
    // Ends the drain early when set (Jobs.runWorkerMain, on a repeated signal): read once, here.
    const drainCut = yield* FiberRef.get(currentDrainCut)
    // Why a job this pool stopped goes back to the queue: read when it is released.
    let released = `released: the worker shut down before the job finished (drain time ${Duration.format(drain)})`
    const releaseReason = () => released
    // Set when the pool's scope closes: no loop claims again.
    let closing = false
    // A job this process submitted is announced twice on PostgreSQL (in process, then by the
    // database): the pool that claimed it on the first does not look again on the second.
    const claims = new RecentClaims()
    // The jobs this pool's loops are running: named when shutdown waits on programs past the interrupt.
    const running = new Set<string>()
    // Runs' ends written while the pool shuts down: cut when the drain time passes (drainCut.ts).
    const cuts = makeDrainCuts(() => closing)
    // Each loop's claims, cut when the drain ends if one still waits on the database (claimCut.ts).
    const claimCuts = makeClaimCuts()
    // The pool's doorbell, rung from before the first claim: a job announced while every
    // loop is busy wakes the next loop that goes idle. Closing the pool rings it too.
    const kindSet = kinds === undefined ? undefined : new Set(kinds)
    const clock = yield* Effect.clock
    const bell = new WorkBell(clock, kindSet, claims)
    // An offer of this pool's kinds (a resume handed to workers, here or in another process)
    // makes its look due at once, and wakes a loop to make it.
    let offersLookedAt = Number.NEGATIVE_INFINITY
    const hear = adoptOffered === undefined ? bell.ring : (signal: Signal) => {
      if (signal._tag === "JobChanged" && signal.offered === true && (kindSet === undefined || kindSet.has(signal.job_kind))) {
        offersLookedAt = Number.NEGATIVE_INFINITY
        return bell.ring(lookAgain)
      }
      bell.ring(signal)
    }
    if (wakeUp !== undefined) {
      const stop = wakeUp.watchWork(hear)
      yield* Effect.addFinalizer(() => Effect.sync(stop))
    }
    // Claims a submit of this process made for this pool (eager dispatch, eagerDispatch.ts): a loop
    // takes one before it claims. A claim no loop will take goes back to the queue, as on shutdown.
    const inbox = new Inbox()
    const release = (claim: Claim) =>
      Effect.ignoreLogged(runner.release(claim.job, claim.run, released))
    /** A parked loop a submit writes a job for: woken by that submit (or its poll), not by a ring. */
    const seatOf = (parked: Parked): Seat => {
      const wake = (ring: Ring) => {
        const wakeReserved = parked.wake
        parked.wake = undefined
        if (wakeReserved !== undefined) wakeReserved(ring)
        // Its poll woke it meanwhile: any idle loop takes the claim, or the next to go idle.
        else if (ring === "work") bell.ring(lookAgain)
      }
      return {
        kinds,
        hand: (claim) =>
          Effect.suspend(() => {
            const taken = inbox.put(claim)
            wake("work")
            return taken ? Effect.void : release(claim)
          }),
        giveBack: () => wake("recompute")
      }
    }
    if (desk !== undefined && options.eagerDispatch !== false) {
      const leave = desk.register({
        seat: (kind) => {
          if (closing || (kindSet !== undefined && !kindSet.has(kind))) return undefined
          const parked = bell.reserve()
          return parked === undefined ? undefined : seatOf(parked)
        }
      })
      yield* Effect.addFinalizer(() => Effect.sync(leave))
    }
    /**
     * Parked on the bell for at most `ms`: the poll is a fiber of its own that
     * wakes the loop as a ring would, so a ring resumes the loop directly —
     * no race to settle, no loser to wait for on the way to the claim (issue
     * 16, pickup). The poll's fiber is told to stop, not waited for.
     */
    const parkFor = (ms: number): Effect.Effect<Ring> =>
      Effect.suspend(() => {
        let parked: Parked | undefined
        const pollOver = Effect.sync(() => {
          const wake = parked?.wake
          if (parked !== undefined) bell.leave(parked)
          if (wake !== undefined) {
            bell.waitOver()
            wake("work")
          }
        })
        return Effect.flatMap(Effect.fork(Effect.zipRight(sleepMillis(ms), pollOver)), (poller) =>
          Effect.zipLeft(
            Effect.async<Ring>((resume) => {
              parked = bell.park((ring) => resume(Effect.succeed(ring)))
              return Effect.sync(() => bell.leave(parked!))
            }),
            Fiber.interruptAsFork(poller, FiberId.none)
          ))
      })
    const idle: Effect.Effect<void> = Effect.suspend(() => {
      const wait = inbox.size > 0 ? 0 : bell.idle(poll)
      return wait <= 0 ? Effect.void : Effect.flatMap(parkFor(wait), (ring) => (ring === "recompute" ? idle : Effect.void))
    })
    // Uninterruptible between claim and program start, so closing the pool never
    // strands a claimed job in `running`: it is either not claimed, or runs, or is released.
    const claimOptions = kinds !== undefined ? { kinds } : {}
    // Runs offered to pools (a resume with `handTo: "workers"`) are looked for at most once a
    // poll interval — or at once after an offer's announcement — by whichever loop gets there
    // first: one that found the queue empty, or one that just ran a job. So a pool that never
    // runs dry takes them too, between jobs, and no claim ever waits behind the look (a woken
    // loop claims first).
    const offersDue = (): boolean => {
      if (adoptOffered === undefined || closing) return false
      const now = clock.unsafeCurrentTimeMillis()
      if (now - offersLookedAt < poll) return false
      offersLookedAt = now
      return true
    }
    /**
     * An offered run taken and run when one is due and there, else `otherwise`.
     * A look that found one may not have found the last: the next look is due
     * at once, and an idle loop is woken to make it. Else a batch of resumes
     * (an operator resuming a hundred stalled jobs) was taken one per poll
     * interval per pool, and recovery stalled the rest again, their runs'
     * heartbeats being the resume's, before any pool got to them.
     */
    const offeredOr = (otherwise: Effect.Effect<void>): Effect.Effect<void, DecodeFailure | ReadError, R> =>
      Effect.suspend(() =>
        offersDue()
          ? Effect.flatMap(adoptOffered!(claimOptions), (claim) => {
            if (claim === null) return otherwise
            offersLookedAt = Number.NEGATIVE_INFINITY
            bell.ring(lookAgain)
            return runClaim(claim)
          })
          : otherwise
      )
    const runClaim = (claim: Claim): Effect.Effect<void, DecodeFailure | ReadError, R> => {
      claims.note({ job_id: claim.job.job_id, run_after: DateTime.toEpochMillis(claim.job.run_after) })
      running.add(claim.job.job_id)
      // The job's own failure is recorded on the job; the worker carries on.
      // The claim has just written the run's heartbeat: the run's first beat is one interval away.
      return Effect.zipRight(
        Effect.matchCauseEffect(runner(claim.job, claim.run, handler, options.run, releaseReason, true, cuts.view), {
          onFailure: (cause) => {
            running.delete(claim.job.job_id)
            return reportEnd(claim, () => closing, redact)(cause)
          },
          onSuccess: () => {
            running.delete(claim.job.job_id)
            return Effect.void
          }
        }),
        offeredOr(Effect.void)
      )
    }
    const failures = makeFailureStreak()
    // A failed claim's look for its lost answer gives up when the pool closes (claimAnswerLost.ts): set once per
    // loop, on the loop's own fiber only (not inherited by the programs it runs: their own claims are a caller's).
    const looks: PoolLooks = { closed: yield* Deferred.make<void>(), firstOfStreak: failures.firstLookWarning }
    /** A loop: its claims carry its own note, and say when they are under way (claimCut.ts); built once when it starts. */
    const loopClaiming = (loopOptions: Parameters<ClaimQueued>[0], own: LoopClaims): Effect.Effect<void, never, R> => {
      // Its outcome is taken inside the region: the drain's end interrupts the loop as it cuts the claims, and the cut's
      // WARN must still be said. Any other failure is logged as before, unless the loop was interrupted meanwhile.
      const iteration = Effect.uninterruptible(Effect.matchCauseEffect(
        Effect.suspend(() => {
          const handed = inbox.take()
          if (handed !== undefined) return runClaim(handed)
          own.claiming = true
          return Effect.flatMap(claimNext(loopOptions), (claim) => {
            own.claiming = false
            return claim === null ? offeredOr(Effect.interruptible(idle)) : runClaim(claim)
          })
        }),
        {
          onFailure: (cause) => {
            own.claiming = false
            return claimCuts.cut()
              ? claimCutSaid(cause)
              : Effect.interruptible(Effect.zipRight(failures.failed(cause, jobOfLostClaim(cause)), idle))
          },
          onSuccess: failures.succeeded
        }
      ))
      const loop: Effect.Effect<void, never, R> = Effect.suspend(() => (closing ? Effect.void : Effect.zipRight(iteration, loop)))
      return loop
    }
    /** No loop claims again, a parked one wakes; claims handed over and not yet taken go back to the queue now. */
    const stopClaiming = (): Effect.Effect<void> => {
      closing = true
      Deferred.unsafeDone(looks.closed, Exit.void)
      const untaken = inbox.close()
      bell.close()
      return Effect.forEach(untaken, release, { discard: true })
    }
    const loops: Array<Fiber.RuntimeFiber<void>> = []
    // The Jobs service closing (its layer's scope; the pool's own scope may outlive it) stops the pool
    // at once, no drain time: its programs interrupted, their jobs released while the store is open.
    const done = trackPool((closer) =>
      Effect.suspend(() => {
        released = releasedOnClose
        const releasing = stopClaiming()
        for (const running of loops) running.unsafeInterruptAsFork(closer)
        return releasing
      })
    )
    // Closed since `Jobs.worker` was called: refused as the call itself is (Jobs.ts).
    if (done === undefined) return yield* Effect.fail(serviceClosed("Jobs.worker"))
    let live = settings.concurrency
    for (let i = 0; i < settings.concurrency; i++) {
      const own = claimCuts.loop()
      const loop = loopClaiming({ ...claimOptions, note: own.note }, own)
      const forked = yield* Effect.forkScoped(Effect.locally(Effect.locally(loop, currentPoolLooks, looks), currentLockWaitCut, own.lockWaitCut))
      forked.addObserver(() => {
        if (--live === 0) done()
      })
      loops.push(forked)
    }
    // Runs before the scope interrupts the loops (finalizers run in reverse order, and
    // this one is added last): stop claiming, drain, then release what is still running.
    // Finalizers are uninterruptible — and the fiber closing the scope may itself be
    // interrupted already — so the drain deadline runs on a fiber of its own.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* stopClaiming()
        yield* Effect.logDebug(`worker pool: shutting down, ${running.size} job(s) running, drain time ${Duration.format(drain)}`)
        const deadline = yield* Effect.forkDaemon(Effect.interruptible(Effect.gen(function*() {
          const drained = Effect.as(sleepRealTime(Duration.toMillis(drain)), false)
          const cutShort = yield* (drainCut === undefined ? drained : Effect.raceFirst(drained, Effect.as(Deferred.await(drainCut), true)))
          if (cutShort) released = `released: the worker shut down before the job finished (drain cut short by a repeated signal)`
          yield* Effect.logInfo(
            cutShort
              ? "worker pool: drain cut short by a repeated signal, releasing unfinished jobs"
              : `worker pool: drain time ${Duration.format(drain)} passed, releasing unfinished jobs`
          )
          // A run's end still waiting on the database (a lock another session holds) is the library's own
          // write, its program done: cut, not waited for up to the store's statement timeout. Each run says what the cut left.
          yield* cuts.cutAll(cutShort ? "was cut short by a repeated signal" : `time ${Duration.format(drain)} passed`)
          // A claim still waiting on the database (a lock another session holds) has taken no job yet: its
          // statement cancelled, it rolls back and its loop ends; again for each claim sent after it, until the loops end.
          const claimsCut = yield* Effect.fork(claimCuts.cutClaims(cancelWritesOf))
          // Told, not waited for: a fiber that will not be interrupted cannot be made to stop, and
          // releasing a job whose program still runs would invite a second run beside it. So the pool
          // waits for it — and says so, once, or shutdown hangs with no word of why.
          yield* Effect.forEach(loops, Fiber.interruptFork, { discard: true })
          yield* sleepRealTime(INTERRUPT_GRACE_MS)
          // A job whose program has ended but whose run's end — a release, or a cut write the store could not
          // cancel — still waits on the database is named as the library's, not as a program that ignores the interrupt.
          const ended = new Set(cuts.waiting())
          const writing = [...running].filter((id) => ended.has(id))
          const programs = [...running].filter((id) => !ended.has(id))
          const listed = (ids: ReadonlyArray<string>) => `${ids.slice(0, 10).join(", ")}${ids.length > 10 ? ", …" : ""}`
          if (writing.length > 0) {
            yield* Effect.logWarning(
              `worker pool: ${writing.length} job(s) whose program has ended still wait ${INTERRUPT_GRACE_MS / 1000}s after the drain time's interrupt ` +
                `(${listed(writing)}): the library's own write of their run's end (the release back to queued, or an end the store cannot cancel) ` +
                `waits on the database, not their program; shutdown waits until it ends`
            ).pipe(Effect.annotateLogs("job_ids", writing.join(",")))
          }
          if (programs.length > 0) {
            yield* Effect.logWarning(
              `worker pool: ${programs.length} job(s) still running ${INTERRUPT_GRACE_MS / 1000}s after the drain time's interrupt ` +
                `(${listed(programs)}): a program that does not respond to interruption ` +
                `(an uninterruptible region, a finalizer that does not end) holds shutdown until it ends; its job is then released to queued`
            ).pipe(Effect.annotateLogs("job_ids", programs.join(",")))
          }
          // Cutting until the loops have ended: this fiber is interrupted then.
          yield* Fiber.join(claimsCut)
        })))
        yield* Fiber.awaitAll(loops)
        yield* Fiber.interrupt(deadline)
      })
    )
  })
