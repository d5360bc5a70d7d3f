/**
 * What the JavaScript heap went through while a piece of work ran, from
 * `v8.GCProfiler`'s before/after statistics of every collection inside it
 * (bench/allocations.ts, bench/gcSurvival.ts).
 */
import * as v8 from "node:v8"

/** A window's heap: bytes allocated, collections, and the scavenges' count, pause and promotion. */
export interface HeapWindow {
  /** The heap's growth over the window plus what every collection inside it freed (Buffers outside the heap not counted). */
  readonly allocated: number
  readonly collections: number
  readonly scavenges: number
  /** The scavenges' main-thread pause, µs. */
  readonly scavengePauseMicros: number
  /** Bytes the scavenges moved into the old generation (its growth across each). */
  readonly promoted: number
}

const oldSpace = (spaces: ReadonlyArray<{ readonly spaceName: string; readonly spaceUsedSize: number }>) =>
  spaces.find((space) => space.spaceName === "old_space")?.spaceUsedSize ?? 0

/** Runs `run` under the GC profiler. */
export const heapDuring = async (run: () => Promise<unknown>): Promise<HeapWindow> => {
  const profiler = new v8.GCProfiler()
  profiler.start()
  const before = v8.getHeapStatistics().used_heap_size
  await run()
  const after = v8.getHeapStatistics().used_heap_size
  const data = profiler.stop()
  let freed = 0
  let scavenges = 0
  let scavengePauseMicros = 0
  let promoted = 0
  for (const gc of data.statistics) {
    freed += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize
    if (gc.gcType !== "Scavenge") continue
    scavenges++
    scavengePauseMicros += gc.cost
    promoted += Math.max(0, oldSpace(gc.afterGC.heapSpaceStatistics) - oldSpace(gc.beforeGC.heapSpaceStatistics))
  }
  return { allocated: after - before + freed, collections: data.statistics.length, scavenges, scavengePauseMicros, promoted }
}
