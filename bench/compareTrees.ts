/**
 * Two checkouts side by side in one process (issue 16): create one at a time
 * and batched (both dialects) and the lifecycle on a SQLite file
 * (both durabilities) at 1 and 4 workers, of a base tree and this one,
 * interleaved sample by sample with the raw driver (for the lifecycle:
 * SqlPersistedQueue at the same durability, in the "raw" column), so drift in
 * a loaded machine hits all alike. Prints medians, ratios to the raw driver
 * and mine ÷ base. Not part of `npm run bench`.
 *
 *   git worktree add --detach /tmp/base main && ln -s "$PWD/node_modules" /tmp/base/node_modules
 *   npx tsx bench/compareTrees.ts /tmp/base [reps] [sampleMs]
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import type { NewAiJob } from "../src/domain/AiJob.js"
import { JobStore } from "../src/store/JobStore.js"
import type * as App from "./app.js"
import * as PersistedQueueBench from "./baselines/persistedQueue.js"
import { rawPgInsert, rawSqliteInsert } from "./baselines/rawInsert.js"
import { connectPg, openSqlite } from "./drivers.js"
import { throughput, throughputEffect } from "./harness.js"
import { startBenchCluster } from "./postgres.js"

interface Tree {
  readonly name: string
  readonly app: typeof App
  readonly oneLifecycle: Effect.Effect<void, unknown, App.Services>
  readonly newJob: NewAiJob
}

const load = async (name: string, root: string): Promise<Tree> => {
  const app = await import(path.join(root, "bench/app.ts")) as typeof App
  const { oneLifecycle } = await import(path.join(root, "bench/lifecycle.ts"))
  const { newJob } = await import(path.join(root, "bench/create.ts"))
  return { name, app, oneLifecycle, newJob }
}

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const main = async () => {
  const [baseRoot, repsArg, msArg] = process.argv.slice(2)
  if (baseRoot === undefined) throw new Error("usage: compareTrees.ts <base checkout> [reps] [sampleMs]")
  const reps = Number(repsArg ?? 3)
  const sampleMs = Number(msArg ?? 750)
  const batch = 50
  const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
  const trees = [await load("base", path.resolve(baseRoot)), await load("mine", here)]
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-compare-"))
  const cluster = await startBenchCluster()
  const samples = new Map<string, Array<number>>()
  const push = (key: string, value: number) => samples.set(key, [...(samples.get(key) ?? []), value])
  const loads: Array<string> = [os.loadavg().map((l) => l.toFixed(1)).join(" ")]
  try {
    // One store per tree and target, opened once; each tree writes to its own database.
    const targets = async (tree: string) => ({
      full: { dialect: "sqlite", filename: path.join(tmp, `${tree}-full.db`), durability: "full" } as const,
      normal: { dialect: "sqlite", filename: path.join(tmp, `${tree}-normal.db`), durability: "normal" } as const,
      pg: { dialect: "pg", url: await cluster.createDatabase(`compare_${tree}`) } as const
    })
    const runtimes = await Promise.all(trees.map(async (tree) => {
      const t = await targets(tree.name)
      return {
        tree,
        full: ManagedRuntime.make(tree.app.servicesLayer(t.full)),
        normal: ManagedRuntime.make(tree.app.servicesLayer(t.normal)),
        pg: ManagedRuntime.make(tree.app.servicesLayer(t.pg))
      }
    }))
    const rawFull = openSqlite(path.join(tmp, "raw-full.db"), "full")
    const rawNormal = openSqlite(path.join(tmp, "raw-normal.db"), "normal")
    const rawPgUrl = await cluster.createDatabase("compare_raw")
    // The raw drivers write into our schema: migrate their databases with the first tree's store.
    for (const target of [
      { dialect: "sqlite", filename: path.join(tmp, "raw-full.db") } as const,
      { dialect: "sqlite", filename: path.join(tmp, "raw-normal.db") } as const,
      { dialect: "pg", url: rawPgUrl } as const
    ]) await trees[0]!.app.migrateTarget(target)
    const rawPg = await connectPg(rawPgUrl)
    const raw = { full: rawSqliteInsert(rawFull), normal: rawSqliteInsert(rawNormal), pg: rawPgInsert(rawPg) }
    // The lifecycle's "raw" is SqlPersistedQueue at the same durability (as bench/lifecycle.ts and durability.ts run it).
    const queues = {
      full: ManagedRuntime.make(PersistedQueueBench.layer.pipe(Layer.provide(PersistedQueueBench.sqliteClient(path.join(tmp, "queue-full.db"), "full")))),
      normal: ManagedRuntime.make(PersistedQueueBench.layer.pipe(Layer.provide(PersistedQueueBench.sqliteClient(path.join(tmp, "queue-normal.db"), "normal"))))
    }
    for (let rep = 0; rep < reps; rep++) {
      console.error(`rep ${rep + 1}/${reps}`)
      for (const where of ["full", "normal", "pg"] as const) {
        const r = raw[where]
        push(`create one ${where} raw`, await throughput(1, sampleMs, async () => void (await r.insertOne())))
        // Which tree goes first alternates rep by rep: neither always meets the other's leftovers (WAL, GC).
        const ordered = rep % 2 === 0 ? runtimes : [...runtimes].reverse()
        for (const rt of ordered) {
          const jobs = Array.from({ length: batch }, () => rt.tree.newJob)
          push(`create one ${where} ${rt.tree.name}`, await rt[where].runPromise(throughputEffect(1, sampleMs, () => Effect.flatMap(JobStore, (s) => s.createJob(rt.tree.newJob)))))
          push(`create batch ${where} ${rt.tree.name}`, batch * await rt[where].runPromise(throughputEffect(1, sampleMs, () => Effect.flatMap(JobStore, (s) => s.createJobs(jobs)))))
        }
        push(`create batch ${where} raw`, batch * await throughput(1, sampleMs, async () => void (await r.insertBatch(batch))))
        if (where !== "pg") {
          for (const workers of [1, 4]) {
            for (const rt of ordered) {
              push(`lifecycle w${workers} ${where} ${rt.tree.name}`, await rt[where].runPromise(throughputEffect(workers, sampleMs, () => rt.tree.oneLifecycle)))
            }
            push(`lifecycle w${workers} ${where} raw`, await queues[where].runPromise(PersistedQueueBench.queueThroughput(workers, sampleMs)))
          }
        }
      }
      loads.push(os.loadavg().map((l) => l.toFixed(1)).join(" "))
    }
    await Promise.all([...runtimes.flatMap((rt) => [rt.full.dispose(), rt.normal.dispose(), rt.pg.dispose()]), queues.full.dispose(), queues.normal.dispose()])
    rawFull.close()
    rawNormal.close()
    await rawPg.end()
  } finally {
    await cluster.stop()
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  console.log(`load average (1/5/15 min) at start and after each rep: ${loads.join(" | ")}`)
  console.log("| figure | raw | base | mine | base ÷ raw | mine ÷ raw | mine ÷ base |")
  console.log("|---|---|---|---|---|---|---|")
  const keys = [...new Set([...samples.keys()].map((key) => key.replace(/ (raw|base|mine)$/, "")))]
  for (const key of keys) {
    const [r, b, m] = ["raw", "base", "mine"].map((who) => samples.get(`${key} ${who}`)).map((v) => v === undefined ? undefined : median(v))
    const ratio = (x?: number, y?: number) => x === undefined || y === undefined ? "" : `${(x / y).toFixed(2)}×`
    const fmt = (x?: number) => x === undefined ? "" : x.toFixed(0)
    console.error(key, ["raw", "base", "mine"].map((who) => `${who}: ${(samples.get(`${key} ${who}`) ?? []).map((v) => v.toFixed(0)).join(" ")}`).join("; "))
    console.log(`| ${key} (jobs/s, ${key.endsWith("pg") ? "PostgreSQL" : `SQLite ${key.endsWith("full") ? "full" : "normal"}`}) | ${fmt(r)} | ${fmt(b)} | ${fmt(m)} | ${ratio(b, r)} | ${ratio(m, r)} | ${ratio(m, b)} |`)
  }
}

void main()
