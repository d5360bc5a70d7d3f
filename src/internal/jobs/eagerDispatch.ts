/**
 * Eager dispatch (issue 16, pickup): a job submitted in this process while a
 * worker pool of this process waits for work of its kind is created and
 * claimed for that pool in one write (`JobStore.createClaimed`) — one commit
 * where the submit and the claim took two, and no wake-up between them.
 * Temporal does the same for activities and workflow starts.
 *
 * The desk is what `Jobs.submit` and the pools share. A pool with a parked
 * loop offers a seat; the submit takes it before its write (so no other
 * submit counts on that loop), then hands the claim over or gives the seat
 * back. A claim goes into the pool's inbox, not to the loop itself: whichever
 * loop goes idle next takes it, and a pool that closed meanwhile hands the
 * job back to the queue. No claim is held by no one.
 */
import type * as Effect from "effect/Effect"
import type { JobKind } from "../../domain/JobKind.js"
import type { Claim } from "../../store/JobStore.js"

/** A loop of a pool, kept for one submit's write. */
export interface Seat {
  /** The pool's kinds (any when absent): the write claims only if no queued job of these comes first. */
  readonly kinds: ReadonlyArray<JobKind> | undefined
  /** The claim, for the pool; a pool that has closed meanwhile hands its job back to the queue. */
  readonly hand: (claim: Claim) => Effect.Effect<void>
  /** Nothing claimed (or the write failed): the loop waits again. */
  readonly giveBack: () => void
}

/** A pool as the desk sees it. */
export interface EagerPool {
  /** A seat for a job of `kind`, if the pool takes that kind and a loop of it is parked. */
  readonly seat: (kind: JobKind) => Seat | undefined
}

export class EagerDesk {
  private readonly pools = new Set<EagerPool>()

  /** A pool offers its idle loops until the returned function is called. */
  register(pool: EagerPool): () => void {
    this.pools.add(pool)
    return () => this.pools.delete(pool)
  }

  /** A seat for a job of `kind` in the first pool that has one. */
  seat(kind: JobKind): Seat | undefined {
    for (const pool of this.pools) {
      const seat = pool.seat(kind)
      if (seat !== undefined) return seat
    }
    return undefined
  }
}

/**
 * A pool's claims handed over by submits, taken by its loops in order. Once
 * closed it refuses new ones, and what it held goes back to the one who
 * closed it.
 */
export class Inbox {
  private claims: Array<Claim> = []
  private closed = false

  put(claim: Claim): boolean {
    if (this.closed) return false
    this.claims.push(claim)
    return true
  }

  take(): Claim | undefined {
    return this.claims.shift()
  }

  get size(): number {
    return this.claims.length
  }

  close(): ReadonlyArray<Claim> {
    this.closed = true
    const left = this.claims
    this.claims = []
    return left
  }
}
