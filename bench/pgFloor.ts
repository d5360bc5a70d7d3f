/**
 * The PostgreSQL lifecycle's ceiling at one worker (issue 16), the
 * counterpart of sqliteFloor.ts: how close to pg-boss could our store get if
 * it spent no JavaScript of its own? One lifecycle through Jobs (submit,
 * claim, heartbeat, complete, every audit event) is captured statement by
 * statement as the store sent it to `pg` (text and parameters); the replay
 * sends the same texts as named prepared statements on one raw `pg` client,
 * each job with fresh ids (every UUID of the capture mapped to a new one,
 * inside JSON texts too) and the capture's timestamps moved to now. Against
 * pg-boss's whole cycle (send → fetch → complete, its JavaScript included)
 * and ours through Jobs, one job at a time, each on its own database of one
 * throwaway cluster (durable settings), the order rotating round by round.
 *
 *   npx tsx bench/pgFloor.ts [rounds] [jobs] ["variant SQL"]
 *
 * With a variant (say, `DROP INDEX flight_recorder_events_type_idx`), a
 * second replay runs beside the first on a database that SQL was applied to
 * after migration: what a schema change would do to the ceiling.
 *
 * Prints per system the median wall and client CPU µs per job, and pg-boss's
 * wall ÷ each system's: for the replay, the best "ours ÷ pg-boss" ratio our
 * statements allow at one worker — the server's work, the round trips and
 * commits, and `pg`'s own parsing, with nothing of ours on top. Not part of
 * `npm run bench`.
 */
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as os from "node:os"
import { performance } from "node:perf_hooks"
import { migrateTarget, servicesLayer } from "./app.js"
import { bossCycle, startBoss } from "./baselines/pgBoss.js"
import { oneLifecycle } from "./lifecycle.js"
import { captureLifecycle, replayer } from "./pgReplay.js"
import { startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"
import { cpuMicros, median } from "./trees.js"

interface PerJob {
  readonly wall: Array<number>
  readonly cpu: Array<number>
}

const main = async () => {
  const rounds = Number(process.argv[2] ?? 5)
  const jobs = Number(process.argv[3] ?? 1000)
  const cluster = await startBenchCluster()
  const loads = [os.loadavg().map((l) => l.toFixed(1)).join(" ")]
  const figures = new Map<string, PerJob>()
  try {
    const statements = await captureLifecycle(await cluster.createDatabase("floor_capture"))
    console.log(`captured ${statements.length} statements a lifecycle:`)
    for (const s of statements) console.log(`  ${s.values.length} params: ${s.text.replace(/\s+/g, " ").slice(0, 110)}`)

    // The replay: its own migrated database.
    const replayUrl = await cluster.createDatabase("floor_replay")
    await migrateTarget({ dialect: "pg", url: replayUrl })
    const replay = await replayer(replayUrl, statements)
    const replayOne = replay.one
    const variantSql = process.argv[4]
    const variant = variantSql === undefined ? null : await (async () => {
      const url = await cluster.createDatabase("floor_variant")
      await migrateTarget({ dialect: "pg", url })
      const replayed = await replayer(url, statements)
      await replayed.client.query(variantSql)
      return replayed
    })()

    const oursRuntime = ManagedRuntime.make(servicesLayer({ dialect: "pg", url: await cluster.createDatabase("floor_ours") }))
    const { boss, queue } = await startBoss(await cluster.createDatabase("floor_boss"))
    const systems: ReadonlyArray<{ readonly name: string; readonly one: () => Promise<unknown> }> = [
      { name: "our statements, raw pg (named)", one: replayOne },
      ...(variant === null ? [] : [{ name: `the same, after: ${variantSql}`, one: variant.one }]),
      { name: "ours through Jobs", one: () => oursRuntime.runPromise(oneLifecycle) },
      { name: "pg-boss send → fetch → complete", one: () => bossCycle(boss, queue) }
    ]
    // A replayed job must take the job it submitted: checked once here, and for every job at the end.
    await replayOne()
    console.log(`replay check: ${await replay.check()} job(s) completed with five records each after one replayed lifecycle`)
    // Warm-up, not counted (bench/warmupCurve.ts: every client's first ~1,000 lifecycles cost 2–3× its steady CPU).
    for (const system of systems) for (let i = 0; i < 1_000; i++) await system.one()

    for (let round = 0; round < rounds; round++) {
      console.error(`round ${round + 1}/${rounds}`)
      for (let k = 0; k < systems.length; k++) {
        const system = systems[(k + round) % systems.length]!
        const [cpu, start] = [cpuMicros(), performance.now()]
        for (let i = 0; i < jobs; i++) await system.one()
        const f = figures.get(system.name) ?? { wall: [], cpu: [] }
        f.wall.push((performance.now() - start) * 1000 / jobs)
        f.cpu.push((cpuMicros() - cpu) / jobs)
        figures.set(system.name, f)
      }
      loads.push(os.loadavg().map((l) => l.toFixed(1)).join(" "))
    }
    console.log(`replay database at the end: ${await replay.check()} jobs, all completed with five records each (replayed: ${1 + 1_000 + rounds * jobs})`)
    await replay.close()
    await variant?.close()
    await boss.stop({ graceful: false, wait: true })
    await oursRuntime.dispose()
  } finally {
    await cluster.stop()
  }
  const bossWall = median(figures.get("pg-boss send → fetch → complete")!.wall)
  console.log(`\n## PostgreSQL lifecycle floor, one worker, ${rounds} rounds of ${jobs} (medians; each round in brackets)`)
  console.log(`load average (1/5/15 min) at start and after each round: ${loads.join(" | ")}`)
  console.log("| system | wall µs per job | client CPU µs per job | pg-boss's wall ÷ this |")
  console.log("|---|---|---|---|")
  const cell = (values: ReadonlyArray<number>) => `${median(values).toFixed(0)} (${values.map((v) => v.toFixed(0)).join(", ")})`
  for (const [name, f] of figures) console.log(`| ${name} | ${cell(f.wall)} | ${cell(f.cpu)} | ${(bossWall / median(f.wall)).toFixed(2)}× |`)
}

runMain(main)
