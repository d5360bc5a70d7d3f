/**
 * A wait for SQLite's write lock that its caller may end early (R8). A worker
 * pool's claim runs uninterruptible — a claim that committed is run or
 * released, never stranded — so its wait for the write lock, held by another
 * connection, could not be interrupted, and the pool's shutdown waited up to
 * `busyTimeoutMs` past its drain time. The pool sets, on each loop's fiber,
 * a question the store asks between two tries of the lock (sqlite/
 * transaction.ts `waitingForWriteLock`): cut now? A cut wait ends with
 * `LockWaitCut` before anything began, so nothing of the write is in the
 * file. Asked only once a try has met the lock: nothing on a write's way.
 */
import { SqlError } from "@effect/sql/SqlError"
import * as FiberRef from "effect/FiberRef"
import { globalValue } from "effect/GlobalValue"

/**
 * Whether the write-lock wait on this fiber is to end now; none outside a
 * pool's loop. Not inherited: a fiber forked from a loop (the program it
 * runs) waits for the lock as any caller does.
 */
export const currentLockWaitCut: FiberRef.FiberRef<(() => boolean) | undefined> = globalValue(
  Symbol.for("@handshake/ai-job-model/currentLockWaitCut"),
  () => FiberRef.unsafeMake<(() => boolean) | undefined>(undefined, { fork: () => undefined, join: (parent) => parent })
)

/** What a cut wait's write fails with: no code of SQLite's, so no caller takes it for the lock wait running out. */
class LockWaitCut extends Error {}

/** The failure of a write whose wait for the write lock was cut (`busy`: the try that met the lock). */
export const lockWaitCut = (busy: SqlError): SqlError =>
  new SqlError({
    cause: new LockWaitCut(
      "its wait for SQLite's write lock (held by another connection) was cut when the worker pool's drain ended: " +
        "nothing of it was written",
      { cause: busy }
    ),
    message: "the wait for the write lock was cut"
  })

/** Whether `error` (a `StorageError`'s cause) is a write whose wait for the write lock was cut: nothing of it ran. */
export const isLockWaitCut = (error: unknown): boolean => error instanceof SqlError && error.cause instanceof LockWaitCut
