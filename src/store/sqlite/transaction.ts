/**
 * Write transactions that take SQLite's write lock up front (`BEGIN IMMEDIATE`)
 * and wait for it without blocking the event loop.
 *
 * Why not `sql.withTransaction`: the SQLite client begins with a plain
 * (deferred) `BEGIN`. A deferred transaction that reads and then writes must
 * upgrade its lock; in WAL mode, if another connection committed in between,
 * the upgrade fails at once with SQLITE_BUSY(_SNAPSHOT) and the busy timeout
 * never applies. Claiming a job or stalling runs reads then writes, so two
 * processes doing it at once would fail instead of waiting. `BEGIN IMMEDIATE`
 * takes the write lock before the first read, so the second process waits.
 *
 * Why not let the busy timeout do the waiting: better-sqlite3 is synchronous,
 * so SQLite's busy handler would freeze the whole Node process while it waits
 * — and when both connections live in one process (two store layers on one
 * file) the holder could never run to release the lock, so the wait would
 * always end in SQLITE_BUSY after the full timeout. Instead the store takes
 * the waiting over: on a connection's first write transaction it reads the
 * `busy_timeout` as its budget and sets it to 0, once (issue 16: before, two
 * PRAGMAs around every BEGIN turned it off and on again, 8 of 31 statements
 * per job). `BEGIN IMMEDIATE` then fails at once when the lock is taken and is
 * retried after short real sleeps (not the Effect Clock: lock waits are about
 * real concurrency, and a TestClock must not stall them) until the budget is
 * spent. Once the lock is held nothing inside the transaction waits for it
 * again (WAL readers never block the writer). The price: a statement run
 * outside these transactions on the same connection no longer sleeps in
 * SQLite's busy handler (a WAL read only meets a lock while another
 * connection recovers the WAL after a crash) — it fails at once instead of
 * freezing the process.
 *
 * The transaction is the store's own (issue 16: `SqlClient.makeWithTransaction`
 * cost 50–85 µs of JavaScript per call, most of it a span and its events):
 * no span (store internals are untraced), BEGIN/COMMIT prepared once. It
 * sits on the client's own `TransactionConnection` tag, exactly as
 * `sql.withTransaction` does, so statements inside it use the transaction's
 * connection, and nested transactions — ours or `sql.withTransaction` —
 * become savepoints as usual. A single write statement needs no transaction
 * at all (`single`): it is atomic by itself, and only its wait for the write
 * lock is done here.
 *
 * With `groupCommit` (the store's default), write transactions of concurrent
 * callers in one process share one BEGIN IMMEDIATE … COMMIT, each in its own
 * savepoint (see "Group commit" below): one fsync for several workers' changes.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as Scope from "effect/Scope"
import { sleepRealTime } from "../../util/sleepRealTime.js"
import { transactionOf } from "../internal/execute.js"
import { currentLockWaitCut, lockWaitCut } from "../internal/lockWaitCut.js"
import { sqliteCode } from "./errors.js"
import { holdingConnection, type OwnConnection, ownConnection } from "./ownClient.js"
import { type ExecEffect, exitNow, type RunNow, runThrough, type Step, type StepFailure } from "./step.js"

/** Runs an effect inside one write transaction (a savepoint when nested). */
export interface WriteTransaction {
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R>
  /**
   * Runs one write statement: as it is inside a transaction, else on its own
   * (SQLite makes a single statement atomic), waiting for the write lock as a
   * transaction's BEGIN does. `effect` must be that one statement: it is run
   * again after SQLITE_BUSY, which a statement fails with before changing anything.
   */
  readonly single: <A, E, R>(effect: Effect.Effect<A, E | SqlError, R>) => Effect.Effect<A, E | SqlError, R>
  /**
   * Runs a store method's change of several statements: in the caller's
   * transaction when there is one — joining it, with no savepoint of its own
   * (see "Auditing a change" in JobStore.ts: a failure there ends the
   * caller's transaction, or the caller nests the call to carry on) — else
   * in a transaction of its own.
   */
  readonly join: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | SqlError, R>
  /**
   * Runs one write statement as `single` does, but outside a transaction its
   * commit is not fsynced (`PRAGMA synchronous = NORMAL` for that statement
   * only, the connection held throughout so no other commit runs at that
   * level): it becomes durable with the connection's next fsynced commit, as
   * WAL frames are synced in order. For a heartbeat, whose loss in an OS crash
   * costs nothing (the worker died with it). Inside a transaction the
   * transaction's commit decides.
   */
  readonly unsynced: (text: string, params: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<Record<string, unknown>>, SqlError>
  /**
   * Runs a store method's change written as a step (step.ts) as `join` runs an
   * Effect: in the caller's transaction when there is one (joined, no
   * savepoint), else in a write transaction of its own or as a member of an
   * open group. On the store's own client the step runs synchronously — its
   * statements, and its savepoint in a group — with no Effect operation per
   * statement (see "Changes as steps" below); on a caller's client, or before
   * the connection's busy timeout is taken over, through `exec`. `E`: what the
   * step throws, as its author states it.
   */
  readonly change: <A, E extends StepFailure = StepFailure>(make: () => Step<A>, exec: ExecEffect) => Effect.Effect<A, E>
  /**
   * The transaction, then `committed` with its result, with no interrupt between the COMMIT and
   * the call: both run in the transaction's own uninterruptible region, while its waits and
   * `effect` stay as interruptible as the caller. A transaction that rolled back never calls it.
   * (Nested, a savepoint: called once the savepoint ran — the caller's transaction decides.)
   */
  readonly thenCommitted: <A, E, R>(effect: Effect.Effect<A, E, R>, committed: (a: A) => void) => Effect.Effect<A, E | SqlError, R>
}

/** Most changes one group commit takes (its owner's included), so a busy store still commits often. */
const MAX_GROUP = 16

/** A caller waiting to run its change (an Effect, on its own fiber) inside an open group's transaction. */
interface Member {
  /**
   * Called once by the group's owner as it takes the member from the line: run now, or start a transaction
   * of your own (the group closed first). Only a member still in the line is taken (`waitTurn`).
   */
  readonly turn: (turn: "run" | "alone" | "timedOut") => void
  /** Set by the member once its savepoint has ended — or, interrupted as the owner took it, at once (`waitTurn`). */
  readonly ran: Deferred.Deferred<void>
  /** Waiting in line since then at the latest: set only when the owner began waiting for the write lock (`markWaiting`). */
  since?: number
}

/**
 * A caller waiting with a change written as a step: the group's owner runs
 * `run` itself, on its connection, in the member's savepoint — no hand-off to
 * the member's fiber — and answers through `done`.
 */
interface StepMember {
  /** Runs the member's step now (on the store's own connection): its end. Never throws. */
  readonly run: () => Exit.Exit<unknown, unknown>
  /** Gives the member its answer, once: its result once the group has committed, its failure at once, or `ALONE`. */
  readonly answer: (exit: Exit.Exit<unknown, unknown>) => void
  /** As `Member.since`. */
  since?: number
}

/** A `StepMember`'s answer when the group closed before its turn: it starts a transaction of its own. */
const ALONE = Symbol("alone")

/** A write transaction open for group commit: its connection, its line, and the members waiting for its COMMIT. */
interface Group {
  /** The owner's connection, once it has begun. */
  conn: Connection | undefined
  readonly line: Array<Member | StepMember>
  /** Members whose turn has come. */
  served: number
  /**
   * How each member whose change ran is told the group's end: a success once the COMMIT has ended; a
   * typed failure when the group rolled back (the group's `broken`) or its COMMIT failed (that error,
   * `commit`) — nothing of it is in the file, as when the member's own transaction fails; a defect only
   * when a ROLLBACK failed and left the transaction open (`undoNow`).
   */
  readonly committed: Array<(commit: Exit.Exit<void, SqlError>) => void>
  /**
   * Set when a member found the transaction gone (rolled back by SQLite itself): the group serves no
   * more members (those left start transactions of their own) and rolls back.
   */
  broken?: SqlError
  /** Set when the owner's wait for the write lock ran out: the failure of the members that waited as long (`closeGroup`). */
  lockTimedOut?: SqlError
}

/** Whether a failure is SQLite's "database is locked" (any SQLITE_BUSY variant). */
export const isBusy = (error: SqlError): boolean => sqliteCode(error)?.startsWith("SQLITE_BUSY") === true

/** The SQLITE_BUSY failure `exit` ended with (a wait for the write lock that ran out), if it is one. */
const lockWaitFailure = (exit: Exit.Exit<unknown, unknown>): SqlError | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const failure = Cause.failureOption(exit.cause)
  return failure._tag === "Some" && failure.value instanceof SqlError && isBusy(failure.value) ? failure.value : undefined
}

/**
 * Whether a ROLLBACK failed because no transaction was open: the BEGIN itself
 * failed (lock wait spent), or SQLite already rolled back on its own. The
 * transaction machinery rolls back after any failure and turns a failing
 * ROLLBACK into a defect, which would hide the real, typed error.
 */
const isNoTransaction = (error: SqlError): boolean =>
  /no transaction is active/i.test(String((error.cause as { readonly message?: unknown } | undefined)?.message))

/**
 * The write-lock budget (ms) of each client whose connection's busy timeout
 * the store has taken over (set to 0). A SQLite client has one connection, so
 * the client stands for it; `configureConnection` forgets the entry when it
 * sets the busy timeout again.
 */
const takenOver = new WeakMap<SqlClient.SqlClient, number>()

/** Gives the connection's `busy_timeout` back to SQLite (after `PRAGMA busy_timeout = n` set it anew). */
export const forgetTakeOver = (sql: SqlClient.SqlClient): void => {
  takenOver.delete(sql)
}

/** An `uninterruptibleMask`'s `restore`: the caller's own interruptibility for what it wraps. */
type Restore = <X, Y, Z>(effect: Effect.Effect<X, Y, Z>) => Effect.Effect<X, Y, Z>

/**
 * Runs `effect` (a BEGIN IMMEDIATE, or one write statement) again while it meets the write lock, up to `lockWaitMs`.
 *
 * The sleeps between tries are as interruptible as the caller (`restore`, when the wait runs in an
 * uninterruptible region): a try that failed with SQLITE_BUSY began nothing and changed nothing, so an
 * interrupt then ends the wait at once, where before it waited out the whole budget (a shutdown delayed up
 * to `busyTimeoutMs`). A try itself is one synchronous statement: once it succeeds, the caller's region
 * holds on, and a begun transaction still ends by COMMIT or ROLLBACK. A wait its caller cut
 * (`currentLockWaitCut`: a worker pool's claim when the drain ends, uninterruptible) fails at its next try.
 */
const waitingForWriteLock = <A, E, R>(
  effect: Effect.Effect<A, E | SqlError, R>,
  lockWaitMs: number,
  // Outside a region of the store's own (`single`, `unsynced`), the sleeps are already as interruptible as the caller.
  restore: Restore = (sleep) => sleep,
  queue?: LockQueue
): Effect.Effect<A, E | SqlError, R> => {
  const attempt = (startedAt: number, delayMs: number, cut: (() => boolean) | undefined): Effect.Effect<A, E | SqlError, R> =>
    Effect.catchIf(
      effect,
      (error) => error instanceof SqlError && isBusy(error) && performance.now() - startedAt < lockWaitMs,
      (busy) => {
        // The first try met the lock: the writers queued behind this one in process wait with it from now on.
        if (delayMs === 1) queue?.markWaiting(performance.now())
        // Its caller's wait cut (a worker pool's drain ended, lockWaitCut.ts): nothing begun, nothing to undo.
        if (cut?.() === true) return Effect.fail(lockWaitCut(busy as SqlError))
        return Effect.zipRight(
          // Write locks are held for milliseconds, so poll often (at most every ~10 ms);
          // jitter keeps two waiting connections from retrying in lockstep.
          restore(sleepRealTime(delayMs * (0.5 + Math.random()))),
          Effect.suspend(() => attempt(startedAt, Math.min(delayMs * 2, 10), cut))
        )
      }
    )
  // A writer that queued in process behind a lock wait counts its time in the queue (`since`): it waits only the
  // rest of its budget, and one that has waited it all tries once.
  return Effect.withFiberRuntime((fiber) => {
    // Read before the wait's start is: the queued writers' time is measured against it (`markWaiting`).
    const cut = fiber.getFiberRef(currentLockWaitCut)
    return attempt(queue?.since ?? performance.now(), 1, cut)
  })
}

/**
 * A lock wait's view of the writers queued behind it in process (the group's line, the connection's),
 * and of its own time in that queue: kept off every path that does not meet the write lock.
 */
interface LockQueue {
  /** Since when this writer has waited in process, at the latest, when a lock wait ahead of it marked it. */
  readonly since: number | undefined
  /** Marks the writers queued now as waiting since `at` at the latest (a lock wait began then). */
  readonly markWaiting: (at: number) => void
}

/** The transaction's own statements, prepared once and cached by the client: they run on every write. */
const execute = (conn: Connection, statement: string) => conn.execute(statement, [], undefined)

/**
 * The budget for waiting on the write lock, in ms: the connection's busy
 * timeout, or what it was when the store took the waiting over.
 */
export const readBusyTimeout: Effect.Effect<number, SqlError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const budget = takenOver.get(sql)
  if (budget !== undefined) return budget
  const rows = yield* sql<{ readonly timeout?: unknown }>`PRAGMA busy_timeout`
  const timeout = rows[0]?.timeout
  return typeof timeout === "number" && Number.isInteger(timeout) && timeout >= 0 ? timeout : 5000
})

/** The connection's `PRAGMA synchronous` level (0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA). */
export const readSynchronous: Effect.Effect<number, SqlError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ readonly synchronous?: unknown }>`PRAGMA synchronous`
  const level = rows[0]?.synchronous
  return typeof level === "number" && Number.isInteger(level) && level >= 0 && level <= 3 ? level : 2
})

/**
 * Builds the `BEGIN IMMEDIATE` transaction runner for `sql`, waiting up to
 * `lockWaitMs` for the write lock; `synchronous` is the connection's level,
 * restored after an `unsynced` statement (below FULL, 2, there is nothing to lower).
 */
export const makeWriteTransaction = (
  sql: SqlClient.SqlClient,
  lockWaitMs: number,
  synchronous = 1,
  options: { readonly groupCommit?: boolean } = {}
): WriteTransaction => {
  /** The connection and lock of the store's own client (ownClient.ts); undefined on a caller's client. */
  const own = ownConnection(sql)
  /**
   * Once per connection: from here on SQLite never sleeps in its busy handler.
   * `run` is the connection already held (a transaction's), else the client.
   */
  const takeOver = (run: (statement: string) => Effect.Effect<unknown, SqlError>) =>
    Effect.suspend(() =>
      takenOver.has(sql) ? Effect.void : Effect.map(run("PRAGMA busy_timeout = 0"), () => {
        takenOver.set(sql, lockWaitMs)
      })
    )
  /**
   * Marks every writer now queued in process — the open group's line, the connection's queue — as
   * waiting since `at` at the latest: a lock wait began then, ahead of them (`waitingForWriteLock`).
   */
  const markWaiting = (at: number) => {
    if (group !== undefined) for (const member of group.line) member.since ??= at
    own?.lock.markWaiting(at)
  }
  const unqueued: LockQueue = { since: undefined, markWaiting }
  /**
   * After a transaction failed (`exit`) on the store's own client: when its wait for the write lock
   * ran out, the writers queued for the connection that have waited as long (marked as the wait
   * began) fail with that error at once, as the group's line does (`closeGroup`), instead of each
   * beginning a whole wait of its own in turn.
   */
  const failWaitedOut = (own: OwnConnection, exit: Exit.Exit<unknown, unknown>) => {
    const timedOut = lockWaitFailure(exit)
    if (timedOut !== undefined) own.lock.failWaitedOut(performance.now() - lockWaitMs, timedOut)
  }
  /** The lock queue of a writer queued in process since `since` (undefined: it took the connection at once). */
  const lockQueue = (since: number | undefined): LockQueue => since === undefined ? unqueued : { since, markWaiting }
  /** BEGIN IMMEDIATE, waiting for the write lock; `since`: when the caller began waiting for the connection, if marked. */
  const begin = (conn: Connection, restore: Restore, since?: number) =>
    own !== undefined && takenOver.has(sql)
      // The store's own client, its busy timeout taken over: BEGIN IMMEDIATE at once, waiting only when the lock is taken.
      ? Effect.suspend(() => {
        try {
          own.runNow("BEGIN IMMEDIATE")
          return Effect.void
        } catch (error) {
          return error instanceof SqlError && isBusy(error)
            ? waitingForWriteLock(execute(conn, "BEGIN IMMEDIATE"), lockWaitMs, restore, lockQueue(since))
            : Effect.fail(error as SqlError)
        }
      })
      : Effect.zipRight(
      takeOver((statement) => conn.executeUnprepared(statement, [], undefined)),
      waitingForWriteLock(execute(conn, "BEGIN IMMEDIATE"), lockWaitMs, restore, lockQueue(since))
    )
  const rollback = (conn: Connection) => Effect.catchIf(execute(conn, "ROLLBACK"), isNoTransaction, () => Effect.void)

  /** Ends a savepoint as `exit` says; a failing RELEASE or ROLLBACK TO is a defect, as in @effect/sql. */
  const settle = <A, E>(exit: Exit.Exit<A, E>, end: Effect.Effect<unknown, SqlError>, undo: Effect.Effect<unknown, SqlError>) =>
    Effect.zipRight(Effect.orDie(Exit.isSuccess(exit) ? end : undo), exit)

  /**
   * ROLLBACK, as `rollback`. One that fails is a defect when it may have left the transaction open: the
   * connection is then unusable, every later BEGIN on it would fail. On the store's own client the driver
   * says whether one is open (none: the failure is nothing to undo); on a caller's client nobody can tell.
   */
  const undo = (conn: Connection): Effect.Effect<void> =>
    Effect.catchAll(
      rollback(conn),
      (error) => own !== undefined && conn === own.connection && !own.inTransaction() ? Effect.void : Effect.die(error)
    )

  /**
   * COMMIT. SQLite may refuse it (a full disk, a deferred foreign key, an I/O error), and the transaction
   * may then still be open or already rolled back by SQLite itself. Either way the connection is made safe
   * first — ROLLBACK when still open — and the COMMIT's error is the typed failure of every change it
   * covered: nothing of them is in the file, and the store's callers see a `StorageError` they can retry.
   */
  const commit = (conn: Connection): Effect.Effect<void, SqlError> =>
    Effect.catchAll(execute(conn, "COMMIT"), (error) =>
      Effect.zipRight(undo(conn), Effect.fail(error)))

  /** Ends a transaction of its own as `exit` says: COMMIT (`commit`), or ROLLBACK (`undo`). */
  const end = <A, E>(exit: Exit.Exit<A, E>, conn: Connection): Effect.Effect<A, E | SqlError> =>
    Exit.isSuccess(exit)
      ? Effect.zipRight(commit(conn), exit)
      : Effect.zipRight(undo(conn), exit)

  /**
   * Whether the transaction in a fiber's context has ended: a fiber forked inside `transaction` or
   * `readConsistent` inherits its connection, and may write after the region is over. On the store's own
   * connection SQLite says whether any transaction is open; none means that one ended, and joining it
   * would run a SAVEPOINT that begins a transaction nobody ends — the change told success, never
   * committed, the write lock held until the next ROLLBACK (found by an outside probe). Refused instead,
   * as PostgreSQL refuses a statement on a transaction that has ended. Not when the store closed under the
   * transaction (its connection closed, the transaction rolled back with it): the statement then fails with
   * the closed store's own error, as every statement after the close does (f128).
   */
  const ended = (conn: Connection): boolean =>
    own !== undefined && conn === own.connection && !own.inTransaction() && own.isOpen()
  const endedError = () =>
    new SqlError({
      cause: new Error("the transaction this fiber was forked in has ended"),
      message: "a write from a fiber forked inside a transaction that has ended: fork work that must commit on its own outside the transaction"
    })

  const transaction = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
    Effect.uninterruptibleMask((restore) => transactionIn(restore, effect))

  const thenCommitted = <A, E, R>(effect: Effect.Effect<A, E, R>, committed: (a: A) => void): Effect.Effect<A, E | SqlError, R> =>
    Effect.uninterruptibleMask((restore) => Effect.tap(transactionIn(restore, effect), (a) => committed(a)))

  /** `transaction`'s body, in its uninterruptible region (`restore` its mask). */
  const transactionIn = <A, E, R>(restore: Restore, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
      Effect.withFiberRuntime<A, E | SqlError, R>((fiber) => {
        const context = fiber.currentContext
        const current = Context.getOption(context, SqlClient.TransactionConnection)
        // `effect` with the transaction's connection in its context, as `Effect.locally` would set it, without
        // its acquireUseRelease (~15 operations): inside this uninterruptible region the context is always put back.
        const inside = (conn: Connection, id: number) =>
          Effect.flatMap(
            FiberRef.getAndSet(FiberRef.currentContext, Context.add(context, SqlClient.TransactionConnection, [conn, id]) as Context.Context<never>),
            (previous) => Effect.flatMap(Effect.exit(restore(effect)), (exit) => Effect.as(FiberRef.set(FiberRef.currentContext, previous), exit))
          )
        if (current._tag === "Some") {
          // Nested: a savepoint, rolled back alone on failure (never released, as in @effect/sql).
          const [conn, depth] = current.value
          if (ended(conn)) return Effect.fail(endedError())
          const id = depth + 1
          return Effect.flatMap(
            Effect.zipRight(execute(conn, `SAVEPOINT effect_sql_${id}`), inside(conn, id)),
            (exit) => settle(exit, Effect.void, execute(conn, `ROLLBACK TO SAVEPOINT effect_sql_${id}`))
          )
        }
        // A group open (its owner's transaction begun or about to be), still taking members: join it. Sent alone (the
        // group closed first), a transaction of its own in this same region, `restore` still the caller's: its waits and
        // change stay as interruptible as the caller (a nested `transaction` would take this region's mask as its own).
        if (group !== undefined) return joinGroup(group, restore, inside, () => transactionIn(restore, effect))
        return ownTransaction(restore, inside)
      })

  /**
   * A write transaction of its own for a change (`inside`, which returns its every end as an exit),
   * in the caller's uninterruptible region (`restore` its mask): it opens a group when group
   * committing, and leads it.
   */
  const ownTransaction = <A, E, R>(
    restore: Restore,
    inside: (conn: Connection, id: number) => Effect.Effect<Exit.Exit<A, E>, never, R>
  ): Effect.Effect<A, E | SqlError, R> => {
    // Opened before the connection is ours: callers arriving while this one waits for it queue here.
    const opened: Group | undefined = groupCommitting ? { conn: undefined, line: [], committed: [], served: 0 } : undefined
    if (opened !== undefined) group = opened
    const body = (conn: Connection, since?: number) =>
      Effect.flatMap(
        Effect.zipRight(begin(conn, restore, since), inside(conn, 0)),
        (exit) => opened !== undefined ? leadGroup(opened, conn, exit) : end(exit, conn)
      )
    const close = (exit?: Exit.Exit<unknown, unknown>) => opened !== undefined && closeGroup(opened, exit)
    const run = own !== undefined ? ownRun(own, restore, body, close)
      // `reserve` is the client's transaction acquirer: it holds the client's
      // one-connection semaphore until the scope closes, as sql.withTransaction does.
      // Its wait for the semaphore is as interruptible as the caller (`restore`): its own
      // `restore` gives back only the region it is called in, this one's.
      : Effect.flatMap(Scope.make(), (scope) =>
        Effect.flatMap(restore(Scope.extend(sql.reserve, scope)), (conn) => body(conn)).pipe(
          Effect.onExit((exit) => Effect.zipRight(Effect.sync(() => close(exit)), Scope.close(scope, Exit.void)))
        ))
    // The group's one yield, before the connection is taken: workers ready to write reach
    // its line, and those waiting for the connection (a heartbeat, a read) get their turn.
    return opened === undefined ? run : Effect.zipRight(Effect.yieldNow(), run)
  }

  /**
   * A transaction on the store's own client: its one permit held directly, no Scope per
   * transaction. Taken at once when free; else the wait is interruptible (as the client's
   * acquirer's). `body` runs uninterruptible but for the change, whose every end it returns as
   * an exit, so `exit` below sees every way it ends and the permit always goes back.
   */
  const ownRun = <A, E, R>(
    own: OwnConnection,
    restore: Restore,
    body: (conn: Connection, since?: number) => Effect.Effect<A, E, R>,
    close: (exit?: Exit.Exit<A, E | SqlError>) => void
  ): Effect.Effect<A, E | SqlError, R> => {
    // `since`: when the caller began waiting for the permit, if a lock wait ahead of it marked it.
    const held = (since: number | undefined) =>
      Effect.flatMap(Effect.exit(body(own.connection, since)), (exit) => {
        close(exit)
        if (Exit.isFailure(exit)) failWaitedOut(own, exit)
        own.lock.release()
        return exit
      })
    return Effect.suspend(() =>
      own.lock.tryTake()
        ? held(undefined)
        // Interrupted, or failed as a writer that waited out a lock wait ahead of it: the group closes with it.
        : Effect.flatMap(Effect.onError(own.lock.acquireWriter<SqlError>(restore), (cause) => Effect.sync(() => close(Exit.failCause(cause)))), held)
    )
  }

  /**
   * Group commit (`groupCommit`). better-sqlite3 runs every statement — and
   * at "full" its fsync — synchronously, so concurrent workers' transactions
   * never overlap: each waits for the connection and commits alone. Instead,
   * a transaction opens a group before it waits for the connection; callers
   * arriving until it commits join its line rather than wait for the
   * connection. Its owner yields once before taking the connection (so
   * workers ready to write reach the line, and those waiting for the
   * connection get their turn), begins, runs its own change, then runs the
   * members' changes one after another on its connection, each in a savepoint of its own (a
   * member's failure rolls back its savepoint alone, and that member gets its
   * error at once), and commits them all at once; each member returns only
   * after that COMMIT. If the owner's own change fails, it rolls back and the
   * members start transactions of their own. One worker: nobody joins, the
   * cost is a yield.
   */
  let group: Group | undefined
  const groupCommitting = options.groupCommit === true

  /**
   * Takes no more members; those in line start transactions of their own — but when the owner's
   * wait for the write lock ran out (`exit`), those that have waited the whole budget too (marked
   * as the wait began, `markWaiting`) fail with its error at once: each would otherwise begin a
   * whole wait of its own, one after another (16 writers: the last after 16 budgets).
   */
  const closeGroup = (current: Group, exit?: Exit.Exit<unknown, unknown>) => {
    if (group === current) group = undefined
    if (current.line.length === 0) return
    const timedOut = exit === undefined ? undefined : lockWaitFailure(exit)
    const now = timedOut === undefined ? 0 : performance.now()
    for (const member of current.line.splice(0)) {
      const waitedOut = timedOut !== undefined && member.since !== undefined && now - member.since >= lockWaitMs
      if ("run" in member) member.answer(waitedOut ? Exit.fail(timedOut) : Exit.succeed(ALONE))
      else if (waitedOut) {
        current.lockTimedOut = timedOut
        member.turn("timedOut")
      } else member.turn("alone")
    }
  }

  /** After the owner's change: the members' changes in turn, then one COMMIT for all. */
  const leadGroup = <A, E>(current: Group, conn: Connection, ownExit: Exit.Exit<A, E>): Effect.Effect<A, E | SqlError> => {
    if (Exit.isFailure(ownExit)) {
      closeGroup(current)
      return end(ownExit, conn)
    }
    if (own !== undefined && conn === own.connection && current.line.length === 0 && current.served === 0) {
      // Nobody in line (one worker): the COMMIT now, on the store's own client (`commitNow`).
      closeGroup(current)
      const committed = commitNow(own)
      return Exit.isSuccess(committed) ? ownExit : committed as Exit.Exit<never, SqlError>
    }
    current.conn = conn
    const nextMember: Effect.Effect<void> = Effect.suspend(() => {
      for (;;) {
        // A broken group serves nobody more: SQLite has ended its transaction, so a member's SAVEPOINT would begin
        // a new one and its RELEASE commit that member's change alone. Those left start transactions of their own.
        const member = current.broken === undefined && current.served < MAX_GROUP - 1 ? current.line.shift() : undefined
        if (member === undefined) return Effect.void
        current.served++
        if ("run" in member) {
          // A step: run here and now, and on to the next member.
          serveNow(current, member)
          continue
        }
        member.turn("run")
        // A member records itself in `committed` (or breaks the group) before it signals.
        return Effect.zipRight(Deferred.await(member.ran), nextMember)
      }
    })
    return nextMember.pipe(
      Effect.zipRight(Effect.suspend(() => {
        closeGroup(current)
        // One COMMIT: a failing one fails every change in the group with its typed error (`commit`); a broken
        // group rolls back and every change in it fails with the group's typed error (`Group.committed`).
        const outcome: Effect.Effect<void, SqlError> = current.broken === undefined
          ? commit(conn)
          : Effect.zipRight(undo(conn), Effect.fail(current.broken))
        return Effect.flatMap(Effect.exit(outcome), (committed): Effect.Effect<A, E | SqlError> => {
          for (const tell of current.committed) tell(committed)
          return Exit.isSuccess(committed) ? ownExit : committed as Exit.Exit<never, SqlError>
        })
      }))
    )
  }

  /** Takes an interrupted member out of `current`'s line: false when the owner has already taken it. */
  const leaveLine = (current: Group, member: Member | StepMember): boolean => {
    const at = current.line.indexOf(member)
    if (at < 0) return false
    current.line.splice(at, 1)
    return true
  }

  /**
   * An Effect member's wait for its turn in `current`'s line (`joinGroup`), in one `async` as a step's
   * (`waitInLine`): it joins the line as the wait begins. Interrupted while still in the line, it leaves
   * it: its change never runs and the owner never waits for it. The owner takes a member from the line
   * and gives it its turn in one synchronous stretch, and the fiber takes either that answer or the
   * interrupt, never both (Effect's async resumes once). So when the canceler runs the member is either
   * still in the line, or the owner gave it its turn after the interrupt had won: then, told "run", it
   * signals `ran` at once — nothing of its change ran, no savepoint was begun — and the owner goes on;
   * told "alone", there is nothing to undo. When the turn wins, the member runs in its savepoint and the
   * interrupt, still pending, ends its change there (`joinGroup`).
   */
  const waitTurn = (current: Group, ran: Deferred.Deferred<void>) =>
    Effect.async<"run" | "alone" | "timedOut">((resume) => {
      let given: "run" | "alone" | "timedOut" | undefined
      const member: Member = {
        turn: (turn) => {
          given = turn
          resume(Exit.succeed(turn))
        },
        ran
      }
      current.line.push(member)
      return Effect.sync(() => {
        if (!leaveLine(current, member) && given === "run") Deferred.unsafeDone(ran, Exit.void)
      })
    })

  /**
   * Runs `inside` as a member of `current` (or, when it closes first, as a transaction of its own), in the
   * caller's uninterruptible region (`restore` its mask): its wait for its turn is as interruptible as the
   * caller (`waitTurn`); once its turn has come, its savepoint is begun and ended, and `ran` signalled,
   * whatever happens — only its change (`inside`) is interruptible, and an interrupted change is rolled
   * back to its savepoint as any failed one.
   */
  const joinGroup = <A, E, R>(
    current: Group,
    restore: Restore,
    inside: (conn: Connection, id: number) => Effect.Effect<Exit.Exit<A, E>, never, R>,
    alone: () => Effect.Effect<A, E | SqlError, R>
  ): Effect.Effect<A, E | SqlError, R> => {
    /** The member's `ran`: the owner waits for it once it has given the member its turn. */
    const signal = Deferred.unsafeMake<void>(FiberId.none)
    return Effect.flatMap(restore(waitTurn(current, signal)), (turn) => {
      if (turn === "alone") return alone()
      if (turn === "timedOut") return Effect.fail(current.lockTimedOut!)
      const conn = current.conn!
      const committed = Deferred.unsafeMake<void, SqlError>(FiberId.none)
      /** A savepoint that cannot be begun or ended means SQLite rolled the whole transaction back: nothing of it may commit. */
      const breaks = (ended: Exit.Exit<unknown, SqlError>) => {
        if (Exit.isSuccess(ended)) return false
        current.broken ??= new SqlError({ cause: Cause.squash(ended.cause), message: "group commit: a member's savepoint failed" })
        return true
      }
      /** The member's end: its change's, or (a broken group) a typed failure — nothing of the group is in the file. */
      const ran: Effect.Effect<Exit.Exit<A, E | SqlError>, never, R> = Effect.gen(function*() {
        const began = yield* Effect.exit(execute(conn, "SAVEPOINT hsk_group_member"))
        // A broken group: nothing of it is in the file, a typed failure (`Group.committed`).
        if (breaks(began)) return Exit.fail(current.broken!) as Exit.Exit<A, E | SqlError>
        const exit = yield* inside(conn, 1)
        const ended = yield* Effect.exit(
          Exit.isSuccess(exit)
            ? execute(conn, "RELEASE hsk_group_member")
            : Effect.zipRight(execute(conn, "ROLLBACK TO hsk_group_member"), execute(conn, "RELEASE hsk_group_member"))
        )
        // The member's own failure when its change failed, else the group's.
        if (breaks(ended)) return Exit.isFailure(exit) ? exit : Exit.fail(current.broken!) as Exit.Exit<A, E | SqlError>
        if (Exit.isSuccess(exit)) current.committed.push((commit) => Deferred.unsafeDone(committed, commit))
        return exit as Exit.Exit<A, E | SqlError>
      })
      // The owner runs the next member (or commits) once this one's savepoint has ended, whatever happened.
      return Effect.flatMap(Effect.ensuring(ran, Effect.sync(() => Deferred.unsafeDone(signal, Exit.void))), (exit) =>
        // A success is answered only once the group's end is known (`Group.committed`).
        Exit.isSuccess(exit) ? Effect.zipRight(Deferred.await(committed), exit) : exit)
    })
  }

  /**
   * Changes as steps (`change`). On the store's own client a step's
   * statements run synchronously on the connection, so a change is one
   * synchronous stretch once the connection is held: BEGIN IMMEDIATE, the
   * step, and COMMIT when nobody waits in the group's line. Group commit is
   * kept as it is: the owner still opens its group and yields once before it
   * takes the connection, so workers ready to write reach its line. A step
   * that finds a group open becomes a `StepMember`: the owner — whichever
   * change leads, a step's or an Effect's — runs the member's step itself, in
   * a savepoint of its own (`serveNow`), with no fiber hand-off; the member
   * waits in one `async` (`waitInLine`), answered with its failure at once or
   * its result once the COMMIT has ended.
   */
  const serveNow = (current: Group, member: StepMember) => {
    // Steps join only groups on the store's own client (`change`).
    const conn = own!
    /** A savepoint that cannot be begun or ended means SQLite rolled the whole transaction back: nothing of it may commit. */
    const broke = (error: unknown, exit?: Exit.Exit<unknown, unknown>) => {
      current.broken ??= new SqlError({ cause: error, message: "group commit: a member's savepoint failed" })
      // Nothing of the group is in the file: the member's own failure when its step failed, else the group's (`Group.committed`).
      member.answer(exit !== undefined && Exit.isFailure(exit) ? exit : Exit.fail(current.broken))
    }
    try {
      conn.runNow("SAVEPOINT hsk_group_member")
    } catch (error) {
      return broke(error)
    }
    const exit = member.run()
    try {
      if (Exit.isFailure(exit)) conn.runNow("ROLLBACK TO hsk_group_member")
      conn.runNow("RELEASE hsk_group_member")
    } catch (error) {
      return broke(error, exit)
    }
    if (Exit.isFailure(exit)) {
      member.answer(exit)
      return
    }
    // A success is answered only once the group's end is known (`Group.committed`).
    current.committed.push((commit) => member.answer(Exit.isSuccess(commit) ? exit : commit))
  }

  /**
   * A step's transaction of its own on the store's own client (`change`): as
   * `ownTransaction`, but once the yield is over and the permit is free, one
   * synchronous stretch — BEGIN IMMEDIATE, the owner's step, the members'
   * steps in their savepoints (`serveNow`), COMMIT (or ROLLBACK), each
   * member told the COMMIT's end, the permit given back — with no Effect
   * operation in between. Whatever it cannot finish so (the permit taken,
   * the write lock taken by another connection, a member in line that is an
   * Effect on its own fiber), it hands on, at that point, to the general
   * path (`ownTransaction`'s `ownRun`, `begin`'s wait, `leadGroup`), which
   * does the same in Effect.
   */
  const ownStepTransaction = <A, E>(
    own: OwnConnection,
    restore: Restore,
    now: () => Exit.Exit<A, E>
  ): Effect.Effect<A, E | SqlError> => {
    const opened: Group | undefined = groupCommitting ? { conn: undefined, line: [], committed: [], served: 0 } : undefined
    if (opened !== undefined) group = opened
    const close = (exit?: Exit.Exit<A, E | SqlError>) => opened !== undefined && closeGroup(opened, exit)
    /** The general path once the permit is held: its release and the group's close however it ends. */
    const released = (effect: Effect.Effect<A, E | SqlError>) =>
      Effect.flatMap(Effect.exit(effect), (exit) => {
        close(exit)
        if (Exit.isFailure(exit)) failWaitedOut(own, exit)
        own.lock.release()
        return exit
      })
    /** The general path after `begun` (BEGIN IMMEDIATE, waiting as needed). */
    const body = (conn: Connection, begun: Effect.Effect<unknown, SqlError>) =>
      Effect.flatMap(
        Effect.zipRight(begun, Effect.sync(now)),
        (exit) => opened !== undefined ? leadGroup(opened, conn, exit) : end(exit, conn)
      )
    const run = Effect.suspend((): Effect.Effect<A, E | SqlError> => {
      const conn = own.connection
      if (!own.lock.tryTake()) {
        return Effect.flatMap(
          Effect.onError(own.lock.acquireWriter<SqlError>(restore), (cause) => Effect.sync(() => close(Exit.failCause(cause)))),
          (since) => released(body(conn, begin(conn, restore, since)))
        )
      }
      try {
        own.runNow("BEGIN IMMEDIATE")
      } catch (error) {
        // The write lock held by another connection: wait for it as `begin` does; any other failure is the change's.
        return released(
          error instanceof SqlError && isBusy(error)
            ? body(conn, waitingForWriteLock(execute(conn, "BEGIN IMMEDIATE"), lockWaitMs, restore, unqueued))
            : Effect.fail(error as SqlError)
        )
      }
      const ownExit = now()
      if (opened === undefined || Exit.isFailure(ownExit)) {
        if (opened !== undefined) closeGroup(opened)
        const ended = Exit.isSuccess(ownExit) ? commitNow(own) : undoNow(own)
        own.lock.release()
        return Exit.isSuccess(ended) ? ownExit : ended as Exit.Exit<never, SqlError>
      }
      // The members' steps, here and now, while every one in line is a step.
      for (;;) {
        // A broken group serves nobody more (as `leadGroup`): those left start transactions of their own.
        const member = opened.broken === undefined && opened.served < MAX_GROUP - 1 ? opened.line[0] : undefined
        if (member === undefined) break
        if (!("run" in member)) return released(leadGroup(opened, conn, ownExit))
        opened.line.shift()
        opened.served++
        serveNow(opened, member)
      }
      closeGroup(opened)
      // As `leadGroup`: one COMMIT, whose failure fails every change in the group, the owner's too (`commitNow`);
      // a broken group rolls back and every change in it fails with the group's typed error.
      const broken = opened.broken
      const committed: Exit.Exit<void, SqlError> = broken === undefined ? commitNow(own) : Exit.zipRight(undoNow(own), Exit.fail(broken))
      for (const tell of opened.committed) tell(committed)
      own.lock.release()
      return Exit.isSuccess(committed) ? ownExit : committed as Exit.Exit<never, SqlError>
    })
    // The group's one yield, as `ownTransaction`'s.
    return opened === undefined ? run : Effect.zipRight(Effect.yieldNow(), run)
  }

  /**
   * ROLLBACK now, on the store's own connection: done unless it failed and left a transaction open
   * (one that finds none — SQLite rolled back already — is no failure). That is a defect: the
   * connection is unusable, every later BEGIN on it would fail.
   */
  const undoNow = (own: OwnConnection): Exit.Exit<void> => {
    try {
      own.runNow("ROLLBACK")
      return Exit.void
    } catch (error) {
      return own.inTransaction() ? Exit.die(error) : Exit.void
    }
  }

  /**
   * COMMIT now, on the store's own connection, as `commit`: when SQLite refuses it the transaction is
   * rolled back if still open (`undoNow`), and the COMMIT's error is the typed failure of every change
   * it covered.
   */
  const commitNow = (own: OwnConnection): Exit.Exit<void, SqlError> => {
    try {
      own.runNow("COMMIT")
      return Exit.void
    } catch (error) {
      const undone = undoNow(own)
      return Exit.isFailure(undone) ? undone : Exit.fail(error as SqlError)
    }
  }

  const change = <A, E extends StepFailure = StepFailure>(make: () => Step<A>, exec: ExecEffect): Effect.Effect<A, E> =>
    Effect.withFiberRuntime<A, E>((fiber) => {
      const current = Context.getOption(fiber.currentContext, SqlClient.TransactionConnection)
      if (own === undefined) return join(runThrough<A, E>(make, exec)) as Effect.Effect<A, E>
      const safe = Context.get(fiber.currentContext, SqlClient.SafeIntegers)
      const run: RunNow = (text, params) => own.rowsNow(text, params, safe)
      if (current._tag === "Some") {
        // The caller's transaction, on the store's connection (whose permit it holds): joined, now.
        // (A transaction of another client's in context: its connection, through `exec`.)
        if (current.value[0] !== own.connection) return runThrough<A, E>(make, exec)
        return ended(own.connection) ? Exit.fail(endedError()) as Exit.Exit<A, E> : exitNow(make, run) as Exit.Exit<A, E>
      }
      // The first write on the connection takes its busy timeout over (`begin`'s other path).
      if (!takenOver.has(sql)) return transaction(runThrough<A, E>(make, exec)) as Effect.Effect<A, E>
      const now = () => exitNow(make, run) as Exit.Exit<A, E>
      if (group === undefined) return Effect.uninterruptibleMask((restore) => ownStepTransaction(own, restore, now)) as Effect.Effect<A, E>
      return Effect.flatMap(waitInLine(now), (answer) =>
        answer === ALONE ? change<A, E>(make, exec) : Effect.succeed(answer as A)) as Effect.Effect<A, E>
    })

  /**
   * A step's wait in the open group's line (`change`), as interruptible as its caller: it joins the line as the
   * wait begins (a group closed meanwhile answers `ALONE` at once). Interrupted while still in the line, it
   * leaves it and its step never runs. Once the owner has taken it, its step has run (the owner runs it at once,
   * synchronously): the interrupt then waits for its answer, so the change is in the group's COMMIT or nowhere,
   * never half done. One `async`, whose canceler does both (no Deferred, no `uninterruptibleMask`).
   */
  const waitInLine = (now: () => Exit.Exit<unknown, unknown>) =>
    Effect.async<unknown, unknown>((callback) => {
      const current = group
      if (current === undefined) return callback(Exit.succeed(ALONE))
      let answered = false
      let resume: (exit: Exit.Exit<unknown, unknown>) => void = callback
      const member: StepMember = {
        run: now,
        answer: (exit) => {
          answered = true
          resume(exit)
        }
      }
      current.line.push(member)
      return Effect.suspend(() => {
        if (leaveLine(current, member) || answered) return Effect.void
        return Effect.async<void>((done) => {
          resume = () => done(Effect.void)
        })
      })
    })

  const single = <A, E, R>(effect: Effect.Effect<A, E | SqlError, R>): Effect.Effect<A, E | SqlError, R> =>
    Effect.withFiberRuntime<A, E | SqlError, R>((fiber) => {
      const current = Context.getOption(fiber.currentContext, SqlClient.TransactionConnection)
      if (current._tag === "Some") return ended(current.value[0]) ? Effect.fail(endedError()) : effect
      return Effect.zipRight(takeOver((statement) => sql.unsafe(statement)), waitingForWriteLock(effect, lockWaitMs))
    })

  const join = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
    Effect.withFiberRuntime<A, E | SqlError, R>((fiber) => {
      const current = Context.getOption(fiber.currentContext, SqlClient.TransactionConnection)
      if (current._tag === "Some") return ended(current.value[0]) ? Effect.fail(endedError()) : effect
      return transaction(effect)
    })

  // Below FULL (2) a commit is not fsynced anyway: nothing to lower.
  const lowered = synchronous >= 2
  const holding = holdingConnection(sql)
  /**
   * On the store's own client with its connection free: the write now, the PRAGMAs around it, in one
   * synchronous stretch (nothing else can run on the connection in between, and there is no wait to
   * hold it through). Undefined when the connection is taken or another connection holds the write
   * lock: then the path that waits.
   */
  const unsyncedNow = (
    own: OwnConnection,
    text: string,
    params: ReadonlyArray<unknown>,
    safeIntegers: boolean
  ): Effect.Effect<ReadonlyArray<Record<string, unknown>>, SqlError> | undefined => {
    if (!own.lock.tryTake()) return undefined
    try {
      if (lowered) own.runNow("PRAGMA synchronous = NORMAL")
    } catch (error) {
      own.lock.release()
      return Effect.fail(error as SqlError)
    }
    let outcome: Effect.Effect<ReadonlyArray<Record<string, unknown>>, SqlError> | undefined
    try {
      outcome = Effect.succeed(own.rowsNow(text, params, safeIntegers))
    } catch (error) {
      outcome = error instanceof SqlError && isBusy(error) ? undefined : Effect.fail(error as SqlError)
    }
    try {
      if (lowered) own.runNow(`PRAGMA synchronous = ${synchronous}`)
    } catch (error) {
      // The level not put back is a defect, as on the path below.
      outcome = Effect.die(error)
    } finally {
      own.lock.release()
    }
    return outcome
  }

  const unsynced = (text: string, params: ReadonlyArray<unknown>) =>
    Effect.withFiberRuntime<ReadonlyArray<Record<string, unknown>>, SqlError>((fiber) => {
      const current = transactionOf(fiber)
      if (current._tag === "Some") return current.value[0].execute(text, params, undefined)
      if (own !== undefined && takenOver.has(sql)) {
        const now = unsyncedNow(own, text, params, Context.get(fiber.currentContext, SqlClient.SafeIntegers))
        if (now !== undefined) return now
      }
      const statement = (conn: Connection) => conn.execute(text, params, undefined)
      if (!lowered) {
        // Nothing lowered: the connection held for each attempt only, so a lock wait does not keep it.
        return Effect.zipRight(takeOver((text) => sql.unsafe(text)), waitingForWriteLock(holding(statement), lockWaitMs))
      }
      return holding((conn) => {
        const write = Effect.zipRight(
          takeOver((text) => conn.executeUnprepared(text, [], undefined)),
          waitingForWriteLock(statement(conn), lockWaitMs)
        )
        // The connection is held (the client's semaphore) from the first PRAGMA to the last.
        if (lowered && own !== undefined) {
          // The store's own client: the PRAGMAs run at once, the level put back however the write ends.
          return Effect.uninterruptibleMask((restore) =>
            Effect.suspend(() => {
              try {
                own.runNow("PRAGMA synchronous = NORMAL")
              } catch (error) {
                return Effect.fail(error as SqlError)
              }
              return Effect.onExit(restore(write), () => Effect.sync(() => own.runNow(`PRAGMA synchronous = ${synchronous}`)))
            })
          )
        }
        return lowered
          ? Effect.acquireUseRelease(
            execute(conn, "PRAGMA synchronous = NORMAL"),
            () => write,
            () => Effect.orDie(execute(conn, `PRAGMA synchronous = ${synchronous}`))
          )
          : write
      })
    })

  return Object.assign(transaction, { single, join, unsynced, change, thenCommitted })
}
