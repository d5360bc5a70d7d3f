/**
 * A simulated database outage for a wrapped store (the README's way to
 * inject faults): while `down` is set, each write or read passed through
 * `during` fails with `StorageError` instead of reaching the database, and is
 * counted in `refused`.
 */
import * as Effect from "effect/Effect"
import type { JobStore } from "../../src/store/JobStore.js"
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

export type Outage = ReturnType<typeof makeOutage>

/**
 * While the outage lasts, the first end write of each node is refused (a dropped statement, a
 * connection lost just then) and every other write goes through: a program's own write for its
 * node fails, the run's end after it does not.
 */
export const droppingNodeEnds = (outage: Outage) => (store: JobStore["Type"]): JobStore["Type"] => {
  const dropped = new Set<string>()
  return {
    ...store,
    finishNode: (nodeId, outcome) =>
      Effect.suspend(() => {
        if (dropped.has(nodeId)) return store.finishNode(nodeId, outcome)
        if (outage.down) dropped.add(nodeId)
        return outage.during("JobStore.finishNode", () => store.finishNode(nodeId, outcome))
      })
  }
}
