/**
 * graphile-worker 0.16 (LISTEN/NOTIFY wake-up, the PostgreSQL queue that
 * wakes idle workers at once) for the pickup-latency comparison: one idle
 * worker, defaults everywhere else.
 */
import { createRequire } from "node:module"
import type * as GraphileWorker from "graphile-worker"

// graphile-worker is CommonJS; load it through require for NodeNext, as pg-boss is.
const Worker = createRequire(import.meta.url)("graphile-worker") as typeof GraphileWorker

/** A running graphile-worker with one task whose start calls `onStart`; `stop` shuts it down. */
export const startGraphile = async (
  url: string,
  onStart: (payload: unknown) => void
): Promise<{ readonly add: (payload: object) => Promise<void>; readonly stop: () => Promise<void> }> => {
  const silent = new Worker.Logger(() => () => {})
  await Worker.runMigrations({ connectionString: url, logger: silent })
  const utils = await Worker.makeWorkerUtils({ connectionString: url, logger: silent })
  const runner = await Worker.run({
    connectionString: url,
    concurrency: 1,
    noHandleSignals: true,
    logger: silent,
    taskList: {
      bench: async (payload) => {
        onStart(payload)
      }
    }
  })
  return {
    add: async (payload) => {
      await utils.addJob("bench", payload)
    },
    stop: async () => {
      await runner.stop()
      await utils.release()
    }
  }
}
