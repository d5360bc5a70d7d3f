/** How the PostgreSQL store reports failures that are not domain outcomes. */
import * as Effect from "effect/Effect"
import { isUnhandled, toStorageError, type Unhandled } from "../internal/storageError.js"
import type { StorageError } from "../StoreErrors.js"
import { retryOutermost } from "./transaction.js"

/**
 * The last step of every store method: a driver or encode failure becomes
 * the method's `StorageError` (internal/storageError.ts). Called outside a
 * transaction, the method runs again after a transient failure (`retryOutermost`).
 */
export const storageErrors = (operation: string) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, Unhandled> | StorageError, R> =>
  retryOutermost(Effect.mapError(self, (error) =>
    // Everything else in E is neither of the two handled.
    isUnhandled(error) ? toStorageError(operation, error) : error as Exclude<E, Unhandled>))
