/**
 * Group commit for a store's statements (issue 16): concurrent callers of
 * one kind of statement share a statement — and its commit — instead of each
 * paying its own round trip and durable commit.
 *
 * At most `slots` statements of the kind are in flight. A caller who finds a
 * slot free runs its own statement at once, in its own fiber (one worker
 * always runs alone: the cost is a counter) — unless other workers are about
 * to call too (`activity`):
 *
 * - while a statement (of any kind) is out, it waits for the next statement
 *   to end (at most `endWaitMillis`), then one event-loop turn: the callers
 *   that end resumed make their next calls first, and those of this kind
 *   join its statement;
 * - right after a shared statement resumed its members, or while another
 *   kind's caller waits its turn, it waits one turn: the same, for replies
 *   handled meanwhile.
 *
 * Without the turn, concurrent workers drift apart — the first of two runs
 * alone and the second waits a whole statement behind it — and at 4 workers
 * hardly two ever met (3.7 statements a job). With the turn alone they met
 * as one lone worker ahead and the rest behind it, for good: the leader of a
 * shared statement, resumed first with nothing else out, ran its next call
 * at once, alone, and every other worker then lined up behind it (groups of
 * 1 and 3 at 4 workers, 2.0 statements a job; 1 and 15 at 16;
 * bench/groupTimeline.ts). Waiting for the end and after a shared statement
 * keeps the workers in one group: 1.0 statement a job at 4 workers, 0.25 at
 * 16 (bench/concurrentCost.ts). The wait for an end is bounded: a statement
 * held up (a lock, a slow network) never holds up another kind's callers for
 * longer than `endWaitMillis`.
 * Callers who find every slot busy wait in line; when a statement ends, its
 * runner hands the slot to the first in line, who runs one statement for
 * itself and every waiter with the same `key` behind it (up to `maxBatch`),
 * in its own fiber, and hands each of them its own result. A batch lasts as
 * long as one statement did: the busier the store, the larger the batches.
 *
 * Failure isolation: when a batch's statement fails (one member's taken
 * event id, a constraint, a lost connection), each member runs again alone,
 * so each gets its own result or its own typed error; so does a member the
 * statement left unsettled (`alone`) — each in its own fiber, after the
 * settled members have their results and the slot has moved on.
 *
 * Why not Effect's own batching: a `RequestResolver` batches the requests
 * of one `Effect.all`/`forEach`, not of separate fibers (workers), and a
 * `Queue` with committer fibers costs every call two fiber hand-offs, even
 * alone. Here the callers' own fibers run the statements: the line is an
 * array and each waiter the resume callback of its own `Effect.async` (a
 * `Deferred` per waiter cost an allocation and an interruptible wait more).
 *
 * A call is uninterruptible from the moment it joins the line to its result:
 * a caller interrupted after its input went into a statement could leave a
 * claimed job no one runs, and the leader of a batch must serve every member.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"

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
   * job), which then runs `one`. A failure (or a defect) sends each member to `one`.
   */
  readonly many: (inputs: ReadonlyArray<I>) => Effect.Effect<ReadonlyArray<A | typeof alone>, unknown>
  /** Inputs that may share a statement have equal (`===`) keys. Default: all may. */
  readonly key?: (input: I) => unknown
  /**
   * The store's statements across its coalesced kinds (`activity()`),
   * shared by them: when a caller who finds its slot free waits for company
   * (see `make`). Without it, a free slot always runs at once.
   */
  readonly activity?: Activity
}

/** A store's coalesced kinds, together (see `CoalesceOptions.activity`). */
export interface Activity {
  /** Slots busy (statements out, and leaders waiting to send theirs). */
  inFlight: number
  /** Statements out. */
  sent: number
  /** A shared statement's members were resumed this turn: their next calls are coming. */
  resumed: boolean
  /** Leaders waiting for the next statement to end. */
  readonly onEnd: Array<() => void>
  /** Longest a leader waits for a statement to end. */
  readonly endWaitMillis: number
}

/** A new, idle `Activity`; a leader waits at most `endWaitMillis` for a statement to end. */
export const activity = (endWaitMillis: number): Activity => ({ inFlight: 0, sent: 0, resumed: false, onEnd: [], endWaitMillis })

/** One event-loop turn: every socket reply ready now is handled (and its caller's next call made) first. */
const nextTurn = Effect.async<void>((resume) => {
  setImmediate(() => resume(Effect.void))
})

/**
 * The next statement's end (at most `endWaitMillis`), then a turn — or only
 * the turn when none is out by now. Checked as it starts waiting, so an end
 * is never missed.
 */
const nextEnd = (store: Activity) =>
  Effect.async<void>((resume) => {
    const turn = () => setImmediate(() => resume(Effect.void))
    if (store.sent === 0) return void turn()
    let waiting = true
    const go = () => {
      if (!waiting) return
      waiting = false
      clearTimeout(timer)
      turn()
    }
    const timer = setTimeout(go, store.endWaitMillis)
    store.onEnd.push(go)
  })

/** A statement ended: the leaders waiting for one go on. */
const ended = (store: Activity) => {
  store.sent--
  if (store.onEnd.length > 0) for (const go of store.onEnd.splice(0)) go()
}

/** A shared statement resumed its members: until the next turn, a free slot waits for their calls. */
const membersResumed = (store: Activity) => {
  if (store.resumed) return
  store.resumed = true
  setImmediate(() => {
    store.resumed = false
  })
}

/** A batch's answer for a member that must run alone. */
export const alone: unique symbol = Symbol("coalesce/alone")

/** What a waiter is woken with: its own result, `alone` (run its own statement), or the slot (it now leads a batch). */
const LEAD = Symbol("coalesce/lead")

interface Waiter<I, A> {
  readonly input: I
  readonly key: unknown
  /** Resumes the waiter's fiber (once). */
  readonly wake: (woken: A | typeof alone | typeof LEAD) => void
}

/** A coalescing runner for one kind of statement: `submit(input)` gives that input's own result. */
export const make = <I, A, E>(options: CoalesceOptions<I, A, E>): (input: I) => Effect.Effect<A, E> => {
  const { maxBatch, one, slots } = options
  const keyOf = options.key ?? (() => undefined)
  const inStore = options.activity
  let busy = 0
  const line: Array<Waiter<I, A>> = []

  /** The slot passes to the first in line, or is freed. */
  const release = () => {
    if (inStore !== undefined) ended(inStore)
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
    if (inStore !== undefined) inStore.sent++
    const members: Array<Waiter<I, A>> = []
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
        onFailure: (cause) => {
          release()
          return Exit.failCause(cause)
        },
        onSuccess: (value) => {
          release()
          return Exit.succeed(value)
        }
      })
    }
    const inputs = [first, ...members.map((member) => member.input)]
    return Effect.flatMap(Effect.exit(options.many(inputs)), (shared) => {
      const settled = Exit.isSuccess(shared) && shared.value.length === inputs.length ? shared.value : undefined
      members.forEach((member, i) => member.wake(settled === undefined ? alone : settled[i + 1]!))
      if (inStore !== undefined) membersResumed(inStore)
      release()
      const own = settled === undefined ? alone : settled[0]!
      return own === alone ? one(first) : Effect.succeed(own)
    })
  }

  /** Leads at once when no other worker is about to call; else after the next end or turn, with whoever came meanwhile. */
  const leadNow = (input: I, key: unknown): Effect.Effect<A, E> => {
    if (inStore === undefined) return lead(input, key)
    const then = Effect.suspend(() => lead(input, key))
    if (inStore.sent > 0) return Effect.zipRight(nextEnd(inStore), then)
    return inStore.inFlight > 1 || inStore.resumed ? Effect.zipRight(nextTurn, then) : lead(input, key)
  }
  const call = (input: I): Effect.Effect<A, E> => {
    const key = keyOf(input)
    if (busy < slots) {
      busy++
      if (inStore !== undefined) inStore.inFlight++
      return leadNow(input, key)
    }
    // Uninterruptible (see `make`), so the line's one resume is never lost.
    return Effect.async<A, E>((resume) => {
      line.push({
        input,
        key,
        wake: (woken) => resume(woken === LEAD ? lead(input, key) : woken === alone ? one(input) : Exit.succeed(woken))
      })
    })
  }

  return (input) => Effect.uninterruptible(Effect.suspend(() => call(input)))
}
