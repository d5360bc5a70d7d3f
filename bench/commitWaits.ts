/**
 * What the server's backends wait on while concurrent workers run lifecycles
 * (issue 16, PostgreSQL at 4 workers), and the WAL each job writes:
 *
 *   npx tsx bench/commitWaits.ts [workers] [sampleMs] [reps]
 *
 * On one throwaway cluster (bench/postgres.ts, durable settings), each rep runs,
 * one after another and in a rotating order: ours (bench/lifecycle.ts's
 * `oneLifecycle`, every audit event, through `Jobs`) with migration 0007's
 * announce triggers enabled, the same with them disabled (`ALTER TABLE … DISABLE
 * TRIGGER`: no NOTIFY in our commits), and pg-boss (send → fetch → complete).
 * During each sample a separate session reads `pg_stat_activity` back to back:
 * for the system's database, the backends that are not idle, by wait event
 * (`CPU` when none). Printed per system: jobs per second, the mean number of
 * active backends in each wait per read, and the WAL per job over the sample
 * (cluster-wide, and only that system runs): bytes by the WAL position, exact;
 * records by `pg_stat_wal`, which backends update at most once a second, so
 * a sample of a few seconds is only roughly right there.
 *
 * What to read: `IO:WALSync` is a backend flushing WAL at its commit;
 * `LWLock:WALWrite` one waiting for another's flush to cover its commit (group
 * commit); `Lock:object` one waiting for the lock PostgreSQL holds from a
 * notifying transaction's pre-commit to the end of its commit — its WAL flush
 * included — so notifying commits never share a flush.
 * Also printed: CPU time a job, this process's (`process.cpuUsage`: the
 * client, and the sampler's own reads) and the server's (every process of
 * the cluster but the sampler's backend, from /proc/<pid>/stat, 10 ms ticks),
 * the backends apart from the rest (WAL writer, checkpointer, autovacuum).
 * With `WAITS=off` nothing samples `pg_stat_activity`, so the client's figure
 * is the system's alone.
 *
 * With `COMMIT_FLUSH=off` in the environment the cluster runs with
 * `synchronous_commit = off` for everyone (no commit waits for its flush): what
 * is left of the gap between the systems once the disk is taken out of it.
 * Not part of `npm run bench`.
 */
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import * as fs from "node:fs"
import * as os from "node:os"
import pg from "pg"
import { type BenchContext, freshTarget, type Services, withServices } from "./app.js"
import { bossRepeatedly, bossThroughput, startBoss } from "./baselines/pgBoss.js"
import { makeLog, median, QUICK, repeatedlyEffect, throughputEffect } from "./harness.js"
import { oneLifecycle } from "./lifecycle.js"
import { startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"

interface Sample {
  readonly rate: number
  readonly waits: Map<string, number>
  readonly walBytes: number
  readonly walRecords: number
  /** µs of this process's CPU a job (the client; the sampler's reads too unless WAITS=off). */
  readonly clientCpu: number
  /** µs of the backends' CPU a job (the sampler's left out). */
  readonly serverCpu: number
  /** µs a job of the cluster's other processes (WAL writer, checkpointer, autovacuum, …). */
  readonly backgroundCpu: number
}

const main = async () => {
  const workers = Number(process.argv[2] ?? 4)
  const sampleMs = Number(process.argv[3] ?? 6000)
  const reps = Number(process.argv[4] ?? 3)
  const flushOff = process.env.COMMIT_FLUSH === "off"
  const cluster = await startBenchCluster(flushOff ? [["synchronous_commit", "off"]] : [])
  if (flushOff) console.log("synchronous_commit = off for the whole cluster (COMMIT_FLUSH=off)")
  const ctx: BenchContext = { mode: QUICK, log: makeLog(), cluster, tmp: os.tmpdir() }
  const admin = new pg.Client({ connectionString: await cluster.createDatabase("commit_waits_admin") })
  await admin.connect()
  try {
    const wal = async () => {
      const { rows } = await admin.query<{ bytes: string; records: string }>("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text AS bytes, wal_records::text AS records FROM pg_stat_wal")
      return { bytes: Number(rows[0]!.bytes), records: Number(rows[0]!.records) }
    }
    const samplerPid = (await admin.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid
    /** `/proc/<pid>/stat`'s fields after the command: [0] state, [1] ppid, … [11] utime, [12] stime (ticks). */
    const statOf = (pid: number | string): ReadonlyArray<string> | undefined => {
      try {
        const text = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
        return text.slice(text.lastIndexOf(")") + 2).split(" ")
      } catch {
        return undefined // gone since the directory was read
      }
    }
    const postmaster = Number(statOf(samplerPid)![1])
    /** A client connection's backend ("postgres: user db host(port) …"), not the postmaster or an auxiliary process (WAL writer, autovacuum, …). */
    const isBackend = (pid: string): boolean => {
      try {
        return /\(\d+\)/.test(fs.readFileSync(`/proc/${pid}/cmdline`, "utf8"))
      } catch {
        return false
      }
    }
    /** CPU ticks of the cluster's processes (the postmaster's children and itself), the sampler's backend left out: backends, the rest. */
    const serverTicks = (): { readonly backends: number; readonly background: number } => {
      let backends = 0
      let background = 0
      for (const pid of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(pid) || Number(pid) === samplerPid) continue
        const stat = statOf(pid)
        if (stat === undefined || (Number(pid) !== postmaster && Number(stat[1]) !== postmaster)) continue
        const ticks = Number(stat[11]) + Number(stat[12])
        if (isBackend(pid)) backends += ticks
        else background += ticks
      }
      return { backends, background }
    }
    const sampleWaits = process.env.WAITS !== "off"
    /** Runs `run` (which returns lifecycles per second) while sampling the database's active backends. */
    const sampled = async (database: string, run: () => Promise<number>): Promise<Sample> => {
      const counts = new Map<string, number>()
      let reads = 0
      let stop = false
      const sampler = (async () => {
        while (!stop && sampleWaits) {
          const { rows } = await admin.query<{ wait: string }>(
            `SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS wait FROM pg_stat_activity
            WHERE datname = $1 AND state <> 'idle' AND pid <> pg_backend_pid()`,
            [database]
          )
          reads++
          for (const { wait } of rows) counts.set(wait, (counts.get(wait) ?? 0) + 1)
        }
      })()
      const before = await wal()
      const clientBefore = process.cpuUsage()
      const serverBefore = serverTicks()
      const rate = await run()
      const serverAfter = serverTicks()
      const client = process.cpuUsage(clientBefore)
      const after = await wal()
      stop = true
      await sampler
      const jobs = rate * sampleMs / 1000
      return {
        rate,
        waits: new Map([...counts].map(([wait, n]) => [wait, n / Math.max(reads, 1)])),
        walBytes: (after.bytes - before.bytes) / jobs,
        walRecords: (after.records - before.records) / jobs,
        clientCpu: (client.user + client.system) / jobs,
        // Linux's USER_HZ is 100 on every platform it runs on: a tick is 10 ms.
        serverCpu: (serverAfter.backends - serverBefore.backends) * 10_000 / jobs,
        backgroundCpu: (serverAfter.background - serverBefore.background) * 10_000 / jobs
      }
    }

    const url = (target: unknown) => (target as { readonly url: string }).url
    const withTriggers = url(await freshTarget(ctx, "pg", "commit_waits_ours"))
    const withoutTriggers = url(await freshTarget(ctx, "pg", "commit_waits_quiet"))
    const bossUrl = url(await freshTarget(ctx, "pg", "commit_waits_boss"))
    const { boss, queue } = await startBoss(bossUrl)
    const dbName = (u: string) => new URL(u).pathname.slice(1)
    const samples = new Map<string, Array<Sample>>()

    await withServices({ dialect: "pg", url: withTriggers }, Effect.gen(function*() {
      const ours = yield* Effect.runtime<Services>()
      yield* Effect.promise(() =>
        withServices({ dialect: "pg", url: withoutTriggers }, Effect.gen(function*() {
          const quiet = yield* Effect.runtime<Services>()
          yield* Effect.promise(async () => {
            const setup = new pg.Client({ connectionString: withoutTriggers })
            await setup.connect()
            await setup.query("ALTER TABLE ai_jobs DISABLE TRIGGER ai_jobs_announce_insert")
            await setup.query("ALTER TABLE ai_jobs DISABLE TRIGGER ai_jobs_announce_state")
            await setup.end()
            const systems: ReadonlyArray<readonly [string, string, () => Promise<number>, () => Promise<void>]> = [
              ["ours", withTriggers,
                () => Runtime.runPromise(ours)(throughputEffect(workers, sampleMs, () => oneLifecycle)),
                () => Runtime.runPromise(ours)(repeatedlyEffect(workers, 1000, () => oneLifecycle))],
              ["ours, announce triggers off", withoutTriggers,
                () => Runtime.runPromise(quiet)(throughputEffect(workers, sampleMs, () => oneLifecycle)),
                () => Runtime.runPromise(quiet)(repeatedlyEffect(workers, 1000, () => oneLifecycle))],
              ["pg-boss", bossUrl,
                () => bossThroughput(boss, queue, workers, sampleMs),
                () => bossRepeatedly(boss, queue, workers, 1000)]
            ]
            for (const [, , , warm] of systems) await warm()
            for (let rep = 0; rep < reps; rep++) {
              for (let i = 0; i < systems.length; i++) {
                const [name, database, run] = systems[(i + rep) % systems.length]!
                samples.set(name, [...(samples.get(name) ?? []), await sampled(dbName(database), run)])
              }
              console.error(`rep ${rep + 1}/${reps}, load ${os.loadavg()[0]!.toFixed(2)}`)
            }
          })
        })))
    }))
    await boss.stop({ graceful: false, wait: true })

    console.log(`\n## ${workers} workers, ${reps} × ${sampleMs / 1000} s per system (load ${os.loadavg().map((l) => l.toFixed(1)).join(" ")})`)
    console.log(`WAL flush at commit: ${flushOff ? "off" : "on"}; wait sampling: ${sampleWaits ? "on (its client CPU is in the client column)" : "off"}`)
    console.log("| system | jobs/s | CPU µs / job, client | CPU µs / job, backends | CPU µs / job, background | WAL bytes / job | WAL records / job | active backends by wait (mean per read) |")
    console.log("|---|---|---|---|---|---|---|---|")
    for (const [name, list] of samples) {
      const waits = new Map<string, Array<number>>()
      for (const s of list) for (const [wait, n] of s.waits) waits.set(wait, [...(waits.get(wait) ?? []), n])
      const top = [...waits].map(([wait, ns]) => [wait, ns.reduce((a, b) => a + b, 0) / list.length] as const)
        .sort((a, b) => b[1] - a[1]).filter(([, n]) => n >= 0.01).map(([wait, n]) => `${wait} ${n.toFixed(2)}`).join(", ")
      console.log(`| ${name} | ${median(list.map((s) => s.rate)).toFixed(0)} (${list.map((s) => s.rate.toFixed(0)).join(", ")}) | ${median(list.map((s) => s.clientCpu)).toFixed(0)} | ${median(list.map((s) => s.serverCpu)).toFixed(0)} | ${median(list.map((s) => s.backgroundCpu)).toFixed(0)} | ${median(list.map((s) => s.walBytes)).toFixed(0)} | ${median(list.map((s) => s.walRecords)).toFixed(1)} | ${top} |`)
    }
  } finally {
    await admin.end()
    await cluster.stop()
  }
}

runMain(main)
