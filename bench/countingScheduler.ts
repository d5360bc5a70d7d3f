/**
 * The default scheduler, counting the runtime's per-operation `shouldYield`
 * calls: one per Effect operation a fiber under it evaluates — a
 * deterministic figure of what the runtime costs, unlike time on a shared
 * machine (bench/effectOps.ts, bench/pickupPhases.ts).
 */
import * as Scheduler from "effect/Scheduler"

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
