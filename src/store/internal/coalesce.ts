/**
 * Group commit for a store's statements (issue 16): concurrent callers of
 * one kind of statement share a statement — and its commit — instead of each
 * paying its own round trip and durable commit.
 *
 * No timer: at most `slots` statements of the kind are in flight. A caller
 * who finds a slot free runs its own statement at once, in its own fiber (one
 * worker always runs alone: the cost is a counter) — or, while a statement of
 * another kind is in flight (`activity`), one event-loop turn later: the
 * replies that came in meanwhile are handled first, and their callers' next
 * calls of this kind join its statement. Without that turn, concurrent
 * workers drift apart — the first of two runs alone and the second waits a
 * whole statement behind it — and at 4 workers hardly two ever met (3.7
 * statements a job); with it they stay together (2.0; bench/concurrentCost.ts).
 * Callers who find every slot busy wait in line; when a statement ends, its
 * runner hands the slot to the first in line, who runs one statement for
 * itself and every waiter with the same `key` behind it (up to `maxBatch`),
 * in its own fiber, and hands each of them its own result. A batch lasts as
 * long as one statement did: the busier the store, the larger the batches.
 *
 * Failure isolation: when a batch's statement fails with what may be one
 * member's fault (its taken event id, a constraint), each member runs again
 * alone, so each gets its own result or its own typed error; so does a member
 * the statement left unsettled (`alone`) — each in its own fiber, after the
 * settled members have their results and the slot has moved on. A failure
 * that is no member's (`failsEvery`: the connection failed, the server is
 * shutting down or out of disk) fails every member with it at once: run
 * alone, each would only meet it again. (A timeout may be one member's wait
 * on a row another transaction holds: its members run alone.)
 *
 * Why not Effect's own batching: a `RequestResolver` batches the requests
 * of one `Effect.all`/`forEach`, not of separate fibers (workers), and a
 * `Queue` with committer fibers costs every call two fiber hand-offs, even
 * alone. Here the callers' own fibers run the statements: the line is an
 * array and each waiter the resume callback of its own `Effect.async` (a
 * `Deferred` per waiter cost an allocation and an interruptible wait more).
 *
 * Two halves, not one lockstep group (`splitAt`): with every worker in one
 * group, a group's reply resumes all of them, each runs its JavaScript to its
 * next call, and only then does the next statement go out — the node thread
 * and the server take turns, never overlapping (bench/groupTimeline.ts). So,
 * once `splitAt` callers or more are in the store's calls:
 * - a statement that served `splitAt` or more resumes half of them now and
 *   holds the other half until the first half's next statement has gone out
 *   (the store's next lead, or three event-loop turns at the latest), and
 *   goes on as one group even if that statement has already ended: two
 *   groups form, one computing while the other's statement is out;
 * - a statement that ends with a group waiting for its slot hands the slot
 *   over first and resumes its own callers one turn later, so the waiting
 *   group's statement is on the wire while they compute, and the halves stay
 *   apart.
 * Groups form as before (every waiter of the key): only who goes on when
 * changes. Below `splitAt` (1 and 4 workers) nothing changes.
 *
 * A call is uninterruptible from the moment its input goes into a statement
 * (or its caller is handed the slot) to its result: a caller interrupted
 * after its input went into a statement could leave a claimed job no one
 * runs, and the leader of a batch must serve every member. Before that, an
 * interruptible caller waiting in line is withdrawn when interrupted (a
 * worker pool's drain cutting a run's end, f137): taken out of the line —
 * so no batch formed later holds its input — it fails interrupted, nothing
 * of it sent. An uninterruptible caller waits as before.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Scheduler from "effect/Scheduler"

export interface CoalesceOptions<I, A, E> {
  /** Statements of this kind in flight at once (≥ 1). */
  readonly slots: number
  /** Most callers one statement serves (≥ 1). */
  readonly maxBatch: number
  /** One caller's statement: a batch of one, and each member a shared statement did not settle. */
  readonly one: (input: I) => Effect.Effect<A, E>
  /**
   * One statement for ≥ 2 inputs of the same key: their results, in their
   * order — `alone` for an input the statement did not settle (its answer
   * needs its own statement: an error to tell apart, a second end of one
   * job), which then runs `one`. A failure (or a defect) sends each member to `one`, but one `failsEvery` names.
   */
  readonly many: (inputs: ReadonlyArray<I>) => Effect.Effect<ReadonlyArray<A | typeof alone>, unknown>
  /**
   * A shared statement's failure that is no one member's (a lost connection, a
   * server shutting down; not a timeout, which may be one member's wait): the error every member
   * fails with at once, none running its statement again. Undefined (or not
   * given): each member runs alone, to get its own outcome. Asked only on a
   * failure.
   */
  readonly failsEvery?: (error: unknown) => E | undefined
  /** Inputs that may share a statement have equal (`===`) keys. Default: all may. */
  readonly key?: (input: I) => unknown
  /**
   * The store's statements in flight across its coalesced kinds
   * (`activity()`), shared by them. While another kind's statement is in
   * flight, a caller who finds its slot free leads its statement one
   * event-loop turn later, so the callers whose replies came in that turn
   * join it; with none in flight (one worker) it runs at once. Without it, a
   * free slot always runs at once.
   */
  readonly activity?: Activity
  /**
   * With `activity`: from this many callers in the store's calls, a
   * statement that served this many resumes them in two halves (see `make`).
   * Default: never.
   */
  readonly splitAt?: number
}

/** A store's coalesced kinds, together (see `CoalesceOptions.activity`). */
export interface Activity {
  /** Slots busy. */
  inFlight: number
  /** Callers from their call until they are resumed: in line, in a statement, or held back. */
  callers: number
  /** Wakes of held-back halves, waiting for the store's next statement to go out. */
  readonly held: Array<() => void>
  /** A held-back half was just woken: the next lead waits a turn, so the whole half shares it. */
  rejoining: boolean
}

/** A new, idle `Activity`. */
export const activity = (): Activity => ({ inFlight: 0, callers: 0, held: [], rejoining: false })

/** Runs `f` `turns` event-loop turns from now. */
const afterTurns = (turns: number, f: () => void): void => {
  setImmediate(() => turns <= 1 ? f() : afterTurns(turns - 1, f))
}

/** Wakes every held-back half (each once). */
const wakeHeld = (store: Activity) => {
  for (const wake of store.held.splice(0)) wake()
}

/** One event-loop turn: every socket reply ready now is handled (and its caller's next call made) first. */
const nextTurn = Effect.async<void>((resume) => {
  setImmediate(() => resume(Effect.void))
})

/** A batch's answer for a member that must run alone. */
export const alone: unique symbol = Symbol("coalesce/alone")

/** What a waiter is woken with: its own result, `alone` (run its own statement), or the slot (it now leads a batch). */
const LEAD = Symbol("coalesce/lead")
/** A waiter woken with the shared statement's failure (`CoalesceOptions.failsEvery`), given as `wake`'s second argument. */
const FAILED = Symbol("coalesce/failed")

type Woken<A> = A | typeof alone | typeof LEAD | typeof FAILED

interface Waiter<I, A, E> {
  readonly input: I
  readonly key: unknown
  /** Resumes the waiter's fiber (once): with `FAILED`, failing with `failure`. */
  readonly wake: (woken: Woken<A>, failure?: E) => void
}

/** The failure every member of a failed shared statement gets (`failsEvery`), if it is one. */
const commonFailure = <E>(shared: Exit.Exit<unknown, unknown>, failsEvery: ((error: unknown) => E | undefined) | undefined) => {
  if (failsEvery === undefined || Exit.isSuccess(shared)) return undefined
  const failure = Cause.failureOption(shared.cause)
  return Option.isSome(failure) ? failsEvery(failure.value) : undefined
}

/** A coalescing runner for one kind of statement: `submit(input)` gives that input's own result. */
export const make = <I, A, E>(options: CoalesceOptions<I, A, E>): (input: I) => Effect.Effect<A, E> => {
  const { maxBatch, one, slots } = options
  const keyOf = options.key ?? (() => undefined)
  const inStore = options.activity
  const splitAt = inStore === undefined ? Infinity : options.splitAt ?? Infinity
  let busy = 0
  const line: Array<Waiter<I, A, E>> = []

  /** The slot passes to the first in line, or is freed. */
  const release = () => {
    const next = line.shift()
    if (next === undefined) {
      busy--
      if (inStore !== undefined) inStore.inFlight--
    } else next.wake(LEAD)
  }

  /**
   * Runs `first`'s batch holding a slot: the waiters of its key join it. Each
   * member settled by the statement gets its result at once and the slot
   * moves on; the others (the statement failed, or left them) then run alone,
   * each in its own fiber and outside the slots, so one member's lock wait or
   * error holds up neither the batch nor the line.
   */
  const lead = (first: I, key: unknown): Effect.Effect<A, E> => {
    // A held-back half goes on once this statement is on the wire (the driver sends it on a later tick, not a later turn).
    if (inStore !== undefined) {
      inStore.rejoining = false
      if (inStore.held.length > 0) setImmediate(wakeHeld, inStore)
    }
    const members: Array<Waiter<I, A, E>> = []
    for (let i = 0; i < line.length && members.length < maxBatch - 1;) {
      const waiter = line[i]!
      if (waiter.key === key) {
        members.push(waiter)
        line.splice(i, 1)
      } else i++
    }
    // Alone: the slot moves on however the statement ends. The call is uninterruptible, so its
    // outcome is the whole story — a cheaper finalizer than `ensuring` (2 Effect operations against ~9).
    if (members.length === 0) {
      return Effect.matchCauseEffect(one(first), {
        onFailure: (cause) => afterStatement(1, undefined, () => Exit.failCause(cause)),
        onSuccess: (value) => afterStatement(1, undefined, () => Exit.succeed(value))
      })
    }
    const inputs = [first, ...members.map((member) => member.input)]
    return Effect.flatMap(Effect.exit(options.many(inputs)), (shared) => {
      const settled = Exit.isSuccess(shared) && shared.value.length === inputs.length ? shared.value : undefined
      const failure = settled === undefined ? commonFailure(shared, options.failsEvery) : undefined
      if (failure !== undefined) {
        return afterStatement(
          inputs.length,
          (from, to) => {
            for (let i = from; i < to; i++) members[i]!.wake(FAILED, failure)
          },
          () => Effect.fail(failure)
        )
      }
      const result = (i: number) => settled === undefined ? alone : settled[i + 1]!
      return afterStatement(
        inputs.length,
        (from, to) => {
          for (let i = from; i < to; i++) members[i]!.wake(result(i))
        },
        () => {
          const own = settled === undefined ? alone : settled[0]!
          return own === alone ? one(first) : Effect.succeed(own)
        }
      )
    })
  }

  /**
   * A statement of `served` callers (its leader, then `served - 1` members)
   * has ended: the members are woken (`wake(from, to)`), the slot moves on,
   * and the leader goes on (`own`) — in the order and at the times `make`
   * says.
   */
  const afterStatement = (
    served: number,
    wake: ((from: number, to: number) => void) | undefined,
    own: () => Effect.Effect<A, E>
  ): Effect.Effect<A, E> => {
    if (inStore === undefined || inStore.callers < splitAt) {
      wake?.(0, served - 1)
      release()
      if (inStore !== undefined) inStore.callers -= served
      return own()
    }
    const store = inStore
    // The members resumed now: half the callers, the leader one of them; the rest held back.
    const now = served >= splitAt ? Math.ceil(served / 2) - 1 : served - 1
    // The next group forms (in `release`) and its statement goes out before these callers compute.
    const handedOver = line.length > 0
    release()
    store.callers -= now + 1
    // Held after the hand-over, so that group's lead does not wake them: the first half's next one does.
    let wakeRest: (() => void) | undefined
    if (now < served - 1) {
      let woken = false
      wakeRest = () => {
        if (woken) return
        woken = true
        store.callers -= served - 1 - now
        // Whether or not the first half's statement is still out, these go on together: the
        // first of them to call leads a turn later, with the others behind it.
        store.rejoining = true
        wake!(now, served - 1)
      }
      store.held.push(wakeRest)
    }
    const goOn = () => {
      wake?.(0, now)
      // The fallback (the first half makes no next call: nothing leads) counts its turns from
      // after the first half has run: the scheduler runs the members' resumptions, queued just
      // above, before this task, so on a loaded machine — where a resumption may wait for a
      // timer — the fallback never overtakes the first half's next statement.
      if (wakeRest !== undefined) {
        const rest = wakeRest
        Scheduler.defaultScheduler.scheduleTask(() => afterTurns(3, rest), 0)
      }
      return own()
    }
    return handedOver ? Effect.zipRight(nextTurn, Effect.suspend(goOn)) : goOn()
  }

  /**
   * Leads at once when no other kind's statement is in flight (nor a half held back, whose callers come soon,
   * nor a half just woken, whose callers are coming now);
   * else a turn later, with whoever came meanwhile.
   */
  const leadNow = (input: I, key: unknown): Effect.Effect<A, E> =>
    inStore === undefined || (inStore.inFlight <= 1 && inStore.held.length === 0 && !inStore.rejoining)
      ? lead(input, key)
      : Effect.zipRight(nextTurn, Effect.suspend(() => lead(input, key)))
  const call = (input: I, restore: <X, Y, R>(effect: Effect.Effect<X, Y, R>) => Effect.Effect<X, Y, R>): Effect.Effect<A, E> => {
    const key = keyOf(input)
    if (inStore !== undefined) inStore.callers++
    if (busy < slots) {
      busy++
      if (inStore !== undefined) inStore.inFlight++
      return leadNow(input, key)
    }
    return waitInLine(input, key, restore)
  }

  /**
   * Waits in line for the slot, a batch's result, or `alone` — interruptibly
   * where the caller is (`restore`). Interrupted, a waiter still in line is
   * withdrawn, one handed the slot hands it on, and one a batch left to run
   * alone does not: none has anything of it sent. One whose input is in a
   * statement waits for that statement's outcome, uninterruptibly.
   */
  const waitInLine = (
    input: I,
    key: unknown,
    restore: <X, Y, R>(effect: Effect.Effect<X, Y, R>) => Effect.Effect<X, Y, R>
  ): Effect.Effect<A, E> => {
    // What the waiter was woken with, kept here: an interrupt racing the wake never loses it.
    let isWoken = false
    let woken: Woken<A> | undefined
    let failure: E | undefined
    let onWake: (() => void) | undefined
    const waiter: Waiter<I, A, E> = {
      input,
      key,
      wake: (given, failed) => {
        isWoken = true
        woken = given
        failure = failed
        onWake?.()
      }
    }
    line.push(waiter)
    const woke = Effect.async<void>((resume) => {
      if (isWoken) resume(Effect.void)
      else onWake = () => resume(Effect.void)
    })
    const outcome = (): Effect.Effect<A, E> =>
      woken === LEAD
        ? lead(input, key)
        : woken === alone
        ? one(input)
        : woken === FAILED
        ? Exit.fail(failure as E)
        : Exit.succeed(woken as A)
    return Effect.matchCauseEffect(restore(woke), {
      onSuccess: outcome,
      onFailure: (cause) => {
        // Decided here, synchronously, from the line itself: no batch can take the waiter meanwhile.
        const at = line.indexOf(waiter)
        if (at >= 0 || woken === LEAD) {
          if (at >= 0) line.splice(at, 1)
          else release()
          // Counted out here: no statement it ran will (`afterStatement`).
          if (inStore !== undefined) inStore.callers--
          return Effect.failCause(cause)
        }
        // Left by its batch to run alone: the batch wrote nothing of it (`CoalesceOptions.many`), and its
        // own statement is not sent yet. Its batch counted it out already.
        if (woken === alone) return Effect.failCause(cause)
        // Its input is in a statement (or its result came): that outcome is its whole story.
        return Effect.zipRight(woke, Effect.suspend(outcome))
      }
    })
  }

  return (input) => Effect.uninterruptibleMask((restore) => call(input, restore))
}
