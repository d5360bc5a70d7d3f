/**
 * Counting the operations Effect's fiber runtime evaluates (issue 16): the
 * runtime asks its scheduler `shouldYield` once per operation, so a
 * scheduler that counts those questions counts the operations — every
 * `flatMap`, `sync`, span and service lookup. A deterministic figure, unlike
 * CPU time on a shared machine. Used by bench/effectOps.ts,
 * bench/opsBreakdown.ts and the operation budgets in test/jobs/effect-operations.test.ts.
 */
import * as Effect from "effect/Effect"
import * as Scheduler from "effect/Scheduler"

/** The default scheduler, counting the runtime's per-operation `shouldYield` calls. */
export const countingScheduler = () => {
  let ops = 0
  const scheduler: Scheduler.Scheduler = {
    scheduleTask: (task, priority) => Scheduler.defaultScheduler.scheduleTask(task, priority),
    shouldYield: (fiber) => {
      ops++
      return Scheduler.defaultScheduler.shouldYield(fiber)
    }
  }
  return { scheduler, ops: () => ops }
}

/** `effect`'s outcome and the operations it took, counted from where it is run (the count's own steps included). */
export const countOperations = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<readonly [A, number], E, R> =>
  Effect.suspend(() => {
    const counting = countingScheduler()
    return Effect.map(Effect.withScheduler(effect, counting.scheduler), (value) => [value, counting.ops()] as const)
  })
