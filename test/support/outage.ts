/**
 * A simulated database outage for a wrapped store (the README's way to
 * inject faults): while `down` is set, each write or read passed through
 * `during` fails with `StorageError` instead of reaching the database, and is
 * counted in `refused`.
 */
import * as Effect from "effect/Effect"
import { StorageError } from "../../src/store/StoreErrors.js"

export const makeOutage = () => {
  const outage = {
    down: false,
    refused: 0,
    during: <A, E, R>(operation: string, call: () => Effect.Effect<A, E, R>) =>
      Effect.suspend((): Effect.Effect<A, E | StorageError, R> => {
        if (!outage.down) return call()
        outage.refused++
        return Effect.fail(new StorageError({ operation, cause: new Error("simulated outage") }))
      })
  }
  return outage
}
