/**
 * SQLite batched create (`JobStore.createJobs`), CPU per job, side by side
 * with a base tree and with the raw driver on each tree's own schema (issue
 * 16): `npx tsx bench/createBatchCpu.ts <base checkout> [reps] [batches] [batch] [normal|full]`
 * runs `reps` rounds; in each, for each tree (the order alternating round by
 * round), `batches` createJobs of `batch` jobs through the tree's store, then
 * as many raw better-sqlite3 batches (bench/baselines/rawInsert.ts: one
 * prepared INSERT per job in one transaction) on the same file. Prints the
 * median CPU µs of this process and wall µs per job, and raw ÷ ours of each
 * (in wall time, the create target's ratio), with the load average. Not part
 * of `npm run bench`.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { rawSqliteInsert } from "./baselines/rawInsert.js"
import { openSqlite } from "./drivers.js"
import { runMain } from "./runMain.js"
import { type Tree, cpuMicros, loadTree, median } from "./trees.js"

const block = (tree: Tree, batches: number, batch: number) =>
  Effect.gen(function*() {
    const store = yield* tree.store.JobStore
    const inputs = Array.from({ length: batch }, () => tree.create.newJob)
    const start = cpuMicros()
    const wall = performance.now()
    for (let i = 0; i < batches; i++) yield* store.createJobs(inputs)
    return { cpu: (cpuMicros() - start) / (batches * batch), wall: (performance.now() - wall) * 1000 / (batches * batch) }
  })

interface PerJob {
  readonly cpu: number
  readonly wall: number
}

const main = async () => {
  const [baseRoot, repsArg, batchesArg, batchArg, durabilityArg] = process.argv.slice(2)
  if (baseRoot === undefined) throw new Error("usage: createBatchCpu.ts <base checkout> [reps] [batches] [batch] [normal|full]")
  const reps = Number(repsArg ?? 8)
  const batches = Number(batchesArg ?? 40)
  const batch = Number(batchArg ?? 100)
  const durability = durabilityArg === "full" ? "full" : "normal"
  const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
  const trees = [await loadTree("base", path.resolve(baseRoot)), await loadTree("mine", here)]
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-create-batch-cpu-"))
  const loads = [os.loadavg().map((l) => l.toFixed(2)).join(" ")]
  try {
    const runs = trees.map((tree) => {
      const filename = path.join(tmp, `${tree.name}.db`)
      return { tree, filename, runtime: ManagedRuntime.make(tree.app.storeLayer({ dialect: "sqlite", filename, durability })) }
    })
    // Migrates each file (through its tree's store) before the raw connection opens it.
    for (const run of runs) await run.runtime.runPromise(block(run.tree, 2, batch))
    const raws = runs.map((run) => {
      const db = openSqlite(run.filename, durability)
      return { db, raw: rawSqliteInsert(db) }
    })
    const ours = new Map<string, Array<PerJob>>(trees.map((tree) => [tree.name, []]))
    const raw = new Map<string, Array<PerJob>>(trees.map((tree) => [tree.name, []]))
    for (let rep = 0; rep < reps; rep++) {
      const order = rep % 2 === 0 ? [0, 1] : [1, 0]
      for (const i of order) {
        const { runtime, tree } = runs[i]!
        ours.get(tree.name)!.push(await runtime.runPromise(block(tree, batches, batch)))
        const start = cpuMicros()
        const wall = performance.now()
        for (let b = 0; b < batches; b++) raws[i]!.raw.insertBatch(batch)
        raw.get(tree.name)!.push({ cpu: (cpuMicros() - start) / (batches * batch), wall: (performance.now() - wall) * 1000 / (batches * batch) })
      }
    }
    loads.push(os.loadavg().map((l) => l.toFixed(2)).join(" "))
    for (const { db } of raws) db.close()
    await Promise.all(runs.map(({ runtime }) => runtime.dispose()))
    console.log(`SQLite createJobs of ${batch}, "${durability}", µs per job, median of ${reps} blocks of ${batches} batches:`)
    const of = (samples: ReadonlyArray<PerJob>, key: keyof PerJob) => median(samples.map((sample) => sample[key]))
    for (const key of ["cpu", "wall"] as const) {
      for (const tree of trees) {
        const [o, r] = [of(ours.get(tree.name)!, key), of(raw.get(tree.name)!, key)]
        console.log(`  ${key} ${tree.name}: ours ${o.toFixed(1)}, raw driver ${r.toFixed(1)} on the same schema, raw ÷ ours ${(r / o).toFixed(2)}×`)
      }
      console.log(`  ${key} mine ÷ base (ours): ${(of(ours.get("mine")!, key) / of(ours.get("base")!, key)).toFixed(2)}×`)
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  console.log(`load average (1/5/15 min) at start and end: ${loads.join(" | ")}`)
}

runMain(main)
