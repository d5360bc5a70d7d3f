/**
 * What the wake-up's NOTIFY costs (issue 15.3): `npx tsx bench/notifyCost.ts [reps] [sampleMs]`.
 *
 * Migration 0007's triggers call `pg_notify` on every new job and every
 * change of a job's state, from the writing transaction; PostgreSQL queues
 * the notification at commit under one lock for the whole server. This
 * measures the full lifecycle (submit → claim → one heartbeat → complete,
 * every audit event written: bench/lifecycle.ts's cycle) per second on one
 * PostgreSQL database with the two triggers enabled and disabled, with a
 * session LISTENing on the channel as a worker's listener would, at 1, 4 and
 * 16 concurrent workers; then the NOTIFY alone, without the library: one
 * autocommit UPDATE that the trigger announces, on 1 and 8 connections. The
 * two modes alternate sample by sample on the same database (the triggers
 * toggled between samples), so drift hits both alike. Prints medians, the
 * median of the side-by-side ratios, and the load average. `--no-listener`:
 * nobody LISTENs, as in `npm run bench`'s lifecycle (a process polling only).
 */
import * as Effect from "effect/Effect"
import * as os from "node:os"
import { performance } from "node:perf_hooks"
import * as Pg from "pg"
import { Jobs } from "../src/Jobs.js"
import { type Claim, JobStore } from "../src/store/JobStore.js"
import * as WakeUp from "../src/WakeUp.js"
import { withServices } from "./app.js"
import { NEW_JOB } from "./fixtures.js"
import { median, throughputEffect } from "./harness.js"
import { startBenchCluster } from "./postgres.js"

const WORKERS = [1, 4, 16] as const

/**
 * The NOTIFY alone: `clients` connections each moving its own job's run_after
 * by a millisecond (a change the state trigger announces), one autocommit
 * statement after another, for `ms`. Statements per second.
 */
const rawUpdates = async (url: string, ids: ReadonlyArray<string>, clients: number, ms: number): Promise<number> => {
  const connections = await Promise.all(Array.from({ length: clients }, async () => {
    const client = new Pg.Client({ connectionString: url })
    await client.connect()
    return client
  }))
  let count = 0
  const deadline = performance.now() + ms
  const start = performance.now()
  await Promise.all(connections.map(async (client, i) => {
    while (performance.now() < deadline) {
      await client.query("UPDATE ai_jobs SET run_after = run_after + interval '1 millisecond' WHERE id = $1", [ids[i]])
      count++
    }
  }))
  const rate = count / ((performance.now() - start) / 1000)
  await Promise.all(connections.map((client) => client.end()))
  return rate
}
const TRIGGERS = ["ai_jobs_announce_insert", "ai_jobs_announce_state"]

const main = async () => {
  const args = process.argv.slice(2)
  const listening = !args.includes("--no-listener")
  const [repsArg, sampleArg] = args.filter((a) => !a.startsWith("--"))
  const reps = Number(repsArg ?? 5)
  const sampleMs = Number(sampleArg ?? 2000)
  const loadBefore = os.loadavg()[0] ?? 0
  const cluster = await startBenchCluster()
  try {
    const url = await cluster.createDatabase("notify_cost")
    const admin = new Pg.Client({ connectionString: url })
    const listener = new Pg.Client({ connectionString: url })
    let notifications = 0
    const samples = await withServices({ dialect: "pg", url }, Effect.gen(function*() {
      yield* Effect.promise(() => admin.connect())
      yield* Effect.promise(() => listener.connect())
      if (listening) yield* Effect.promise(() => listener.query(`LISTEN ${WakeUp.CHANNEL}`))
      listener.on("notification", () => notifications++)
      const setNotify = (on: boolean) =>
        Effect.promise(() => admin.query(`ALTER TABLE ai_jobs ${on ? "ENABLE" : "DISABLE"} TRIGGER ${TRIGGERS.join(`, ${on ? "ENABLE" : "DISABLE"} TRIGGER `)}`))
      const jobs = yield* Jobs
      const store = yield* JobStore
      const cycle = Effect.gen(function*() {
        yield* jobs.submit(NEW_JOB)
        let claim: Claim | null = null
        while (claim === null) claim = yield* jobs.claimNext()
        yield* store.heartbeat(claim.run.id)
        yield* jobs.complete(claim.job.job_id)
      })
      // Warm up both modes (plans, connections, JIT of the JavaScript).
      for (const on of [true, false]) {
        yield* setNotify(on)
        yield* throughputEffect(4, 500, () => cycle)
      }
      const out = new Map<string, Array<number>>()
      for (let rep = 0; rep < reps; rep++) {
        for (const workers of WORKERS) {
          // Alternate which mode goes first, so neither always follows the other.
          for (const on of rep % 2 === 0 ? [true, false] : [false, true]) {
            yield* setNotify(on)
            const key = `${workers}:${on ? "with" : "without"}`
            out.set(key, [...(out.get(key) ?? []), yield* throughputEffect(workers, sampleMs, () => cycle)])
          }
        }
        console.error(`rep ${rep + 1}/${reps} done`)
      }
      // The NOTIFY alone, without the library: one UPDATE per commit on jobs of their own.
      const ids = (yield* jobs.list({ limit: 16 })).items.map((job) => job.job_id)
      for (let rep = 0; rep < reps; rep++) {
        for (const clients of [1, 8]) {
          for (const on of rep % 2 === 0 ? [true, false] : [false, true]) {
            yield* setNotify(on)
            const key = `raw${clients}:${on ? "with" : "without"}`
            out.set(key, [...(out.get(key) ?? []), yield* Effect.promise(() => rawUpdates(url, ids, clients, sampleMs / 2))])
          }
        }
      }
      yield* setNotify(true)
      return out
    }))
    await listener.end()
    await admin.end()
    const loadAfter = os.loadavg()[0] ?? 0
    console.log(`\nLifecycle per second on PostgreSQL, NOTIFY on each state change vs none; ${reps} samples of ${sampleMs} ms each, medians.`)
    console.log(`Load average (1 min): ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after; ${os.cpus().length} cores. ${listening ? `Notifications heard: ${notifications}.` : "Nobody listening."}\n`)
    console.log("| Workers | with NOTIFY (jobs/s) | without (jobs/s) | with / without (paired median) | samples with | samples without |")
    console.log("|---|---|---|---|---|---|")
    const fmt = (xs: ReadonlyArray<number>) => xs.map((x) => x.toFixed(0)).join(", ")
    /** Median of the ratios of samples taken side by side (with / without), which cancels drift between pairs. */
    const pairedRatio = (withN: ReadonlyArray<number>, without: ReadonlyArray<number>) =>
      median(withN.map((w, i) => w / (without[i] ?? Number.NaN)))
    const row = (label: string | number, key: string) => {
      const withN = samples.get(`${key}:with`) ?? []
      const without = samples.get(`${key}:without`) ?? []
      console.log(`| ${label} | ${median(withN).toFixed(1)} | ${median(without).toFixed(1)} | ${pairedRatio(withN, without).toFixed(2)} | ${fmt(withN)} | ${fmt(without)} |`)
    }
    for (const workers of WORKERS) row(workers, String(workers))
    console.log("\nThe NOTIFY alone: autocommit UPDATEs of run_after (announced by the state trigger), statements per second.\n")
    console.log("| Connections | with NOTIFY | without | with / without (paired median) | samples with | samples without |")
    console.log("|---|---|---|---|---|---|")
    for (const clients of [1, 8]) row(clients, `raw${clients}`)
  } finally {
    await cluster.stop()
  }
}

void main()
