/**
 * A worker pool's doorbell (issue 16, pickup): how the pool's idle loops hear
 * that work of their kinds may be there, without a subscription fiber and a
 * three-way race per idle wait. The WakeUp service hands every signal to the
 * bell in the publisher's call (`WakeUp.watchWork`); an idle loop parks on it.
 *
 * The same rules as a queue of signals taken one at a time (`awaitWork`):
 * - each signal wakes at most one loop; one that arrives while every loop is
 *   busy is kept, and judged when a loop goes idle — so a loop that has just
 *   claimed the job it announces (RecentClaims) does not look again for it;
 * - a job not of the pool's kinds, not queued, or one this pool claimed, is
 *   no work; "look again" (announcements may have been missed) is;
 * - a job eligible later wakes a loop at that time (the loop's wait is cut to
 *   it), unless something wakes it first.
 *
 * Judged at once when a loop is parked (the bell's callback runs in the
 * publisher's call: it must not block or throw); kept otherwise. The time is
 * Effect's `Clock` (`unsafeCurrentTimeMillis`), so a `TestClock` drives it.
 */
import type * as Clock from "effect/Clock"
import type { JobKind } from "../../domain/JobKind.js"
import type { RecentClaims } from "./recentClaims.js"
import type { Signal } from "./signal.js"

/** What a parked loop is told: work may be there, or its wait must be recomputed (a job is due sooner). */
export type Ring = "work" | "recompute"

/** A parked loop: woken once. */
export interface Parked {
  wake: ((ring: Ring) => void) | undefined
}

/**
 * Signals kept while every loop is busy: past this many, one "look again"
 * stands for them all. Also the most jobs-due-later remembered: past it the
 * latest is forgotten, and found by the poll (at most one interval late).
 */
const KEPT = 1024

export class WorkBell {
  private kept: Array<Signal> = []
  private readonly parked: Array<Parked> = []
  /** Eligible times (epoch ms) of jobs announced for later, each owed one wake. */
  private readonly due: Array<number> = []
  private closed = false

  constructor(
    private readonly clock: Clock.Clock,
    private readonly kinds: ReadonlySet<JobKind> | undefined,
    private readonly claims: RecentClaims
  ) {}

  /** The signal's meaning for this pool: work now, work at a time, or none. */
  private judge(signal: Signal): "work" | "none" | number {
    if (signal._tag === "LookAgain") return "work"
    if (this.claims.claimed(signal) || signal.state !== "queued" || (this.kinds !== undefined && !this.kinds.has(signal.job_kind))) {
      return "none"
    }
    return signal.run_after > this.clock.unsafeCurrentTimeMillis() ? signal.run_after : "work"
  }

  /** A signal from the WakeUp service (in the publisher's call). */
  readonly ring = (signal: Signal): void => {
    if (this.closed) return
    if (this.parked.length === 0) {
      if (this.kept.length < KEPT) this.kept.push(signal)
      else this.kept = [{ _tag: "LookAgain" }]
      return
    }
    const meaning = this.judge(signal)
    if (meaning === "none") return
    if (meaning === "work") return this.wakeOne("work")
    this.remember(meaning)
    // A parked loop's wait may end later than this job's time: it recomputes.
    this.wakeOne("recompute")
  }

  private wakeOne(ring: Ring): void {
    const parked = this.parked.shift()
    const wake = parked?.wake
    if (parked !== undefined) parked.wake = undefined
    wake?.(ring)
  }

  /**
   * A loop going idle: `0` if work may be there now (a kept signal, a due
   * job, the bell closed); else how long to wait at most (ms, ≤ `poll`) —
   * until the earliest job announced for later.
   */
  idle(poll: number): number {
    if (this.closed) return 0
    while (this.kept.length > 0) {
      const meaning = this.judge(this.kept.shift()!)
      if (meaning === "work") return 0
      if (meaning !== "none") this.remember(meaning)
    }
    const earliest = this.earliest()
    if (earliest === undefined) return poll
    const wait = this.due[earliest]! - this.clock.unsafeCurrentTimeMillis()
    if (wait > 0) return Math.min(poll, wait)
    this.due.splice(earliest, 1)
    return 0
  }

  /** A loop's wait ran out, and it looks now: the earliest job due by now (if any) is what it looks for. */
  waitOver(): void {
    const earliest = this.earliest()
    if (earliest !== undefined && this.due[earliest]! <= this.clock.unsafeCurrentTimeMillis()) this.due.splice(earliest, 1)
  }

  private remember(dueAt: number): void {
    this.due.push(dueAt)
    if (this.due.length <= KEPT) return
    let latest = 0
    for (let i = 1; i < this.due.length; i++) if (this.due[i]! > this.due[latest]!) latest = i
    this.due.splice(latest, 1)
  }

  private earliest(): number | undefined {
    if (this.due.length === 0) return undefined
    let earliest = 0
    for (let i = 1; i < this.due.length; i++) if (this.due[i]! < this.due[earliest]!) earliest = i
    return earliest
  }

  /**
   * Parks a loop until a ring, `wake` called at most once. A signal kept
   * since the loop's `idle` (the loop's fiber may yield in between, and an
   * announcement arrive meanwhile), or the bell closed meanwhile, wakes it at
   * once to look again: no announcement waits for the poll.
   */
  park(wake: (ring: Ring) => void): Parked {
    if (this.kept.length > 0 || this.closed) {
      wake("recompute")
      return { wake: undefined }
    }
    const parked: Parked = { wake }
    this.parked.push(parked)
    return parked
  }

  /**
   * One parked loop taken out of line without waking it (eager dispatch,
   * jobs/eagerDispatch.ts): no ring goes to it while a submit writes a job
   * for it; that submit wakes it. None when no loop is parked or the bell is closed.
   */
  reserve(): Parked | undefined {
    if (this.closed) return undefined
    return this.parked.shift()
  }

  /** A loop that stopped waiting (its poll ran out, it was interrupted): no ring goes to it. */
  leave(parked: Parked): void {
    if (parked.wake === undefined) return
    parked.wake = undefined
    const at = this.parked.indexOf(parked)
    if (at >= 0) this.parked.splice(at, 1)
  }

  /** The pool is closing: every parked loop wakes, and no loop parks again. */
  close(): void {
    this.closed = true
    while (this.parked.length > 0) this.wakeOne("work")
  }
}
