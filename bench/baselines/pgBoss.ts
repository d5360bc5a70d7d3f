/**
 * pg-boss 10 (the PostgreSQL queue most Node applications use) doing the
 * nearest equivalent of our lifecycle: send → fetch → complete, with
 * `workers` concurrent loops in one process on the same server.
 */
import { createRequire } from "node:module"
import type PgBossType from "pg-boss"
import { repeatedly, throughput } from "../harness.js"

// pg-boss is CommonJS with `export =` typings; load it through require for NodeNext.
const PgBoss = createRequire(import.meta.url)("pg-boss") as typeof PgBossType

/** A started pg-boss with one queue; `stop` closes it. */
export const startBoss = async (url: string): Promise<{ readonly boss: PgBossType; readonly queue: string }> => {
  // Defaults everywhere (pool of 10, as the other clients); cron scheduling is off because nothing here uses it.
  const boss = new PgBoss({ connectionString: url, schedule: false })
  boss.on("error", (error) => console.error("pg-boss:", error))
  await boss.start()
  const queue = "bench"
  await boss.createQueue(queue)
  return { boss, queue }
}

/** One lifecycle: send a job, fetch one (retrying if another worker took the last), complete it. */
export const bossCycle = async (boss: PgBossType, queue: string): Promise<void> => {
  await boss.send(queue, { doc: "bench" })
  for (;;) {
    const [job] = await boss.fetch<{ doc: string }>(queue)
    if (job !== undefined) {
      await boss.complete(queue, job.id)
      return
    }
  }
}

/** Lifecycles per second with `workers` concurrent loops for `durationMs`. */
export const bossThroughput = (boss: PgBossType, queue: string, workers: number, durationMs: number): Promise<number> =>
  throughput(workers, durationMs, () => bossCycle(boss, queue))

/** `total` lifecycles shared by `workers` concurrent loops, not measured (the lifecycle section's warm-up). */
export const bossRepeatedly = (boss: PgBossType, queue: string, workers: number, total: number): Promise<void> =>
  repeatedly(workers, total, () => bossCycle(boss, queue))

/**
 * A pg-boss worker (`work`) polling `queue` every `pollingIntervalSeconds`
 * (its default is 2; 0.5 is the least it allows), calling `onStart` when a
 * job's handler begins. pg-boss has no push wake-up: an idle worker finds a
 * job at its next poll.
 */
export const startBossWorker = async (
  boss: PgBossType,
  queue: string,
  pollingIntervalSeconds: number,
  onStart: (data: unknown) => void
): Promise<string> =>
  boss.work(queue, { pollingIntervalSeconds, batchSize: 1 }, async ([job]) => {
    onStart(job?.data)
  })
