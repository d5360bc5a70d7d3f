/**
 * SQLite batched create (`JobStore.createJobs`), CPU per job, side by side
 * with a base tree and with the raw driver on each tree's own schema (issue
 * 16): `npx tsx bench/createBatchCpu.ts <base checkout> [reps] [batches] [batch] [normal|full]`
 * runs `reps` rounds; in each, for each tree (the order alternating round by
 * round), `batches` createJobs of `batch` jobs through the tree's store, then
 * as many raw better-sqlite3 batches (bench/baselines/rawInsert.ts: one
 * prepared INSERT per job in one transaction) on the same file. Prints the
 * median CPU µs of this process per job and raw ÷ ours (the create target's
 * ratio, in CPU), with the load average. Not part of `npm run bench`.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
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
    for (let i = 0; i < batches; i++) yield* store.createJobs(inputs)
    return (cpuMicros() - start) / (batches * batch)
  })

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
    const ours = new Map<string, Array<number>>(trees.map((tree) => [tree.name, []]))
    const raw = new Map<string, Array<number>>(trees.map((tree) => [tree.name, []]))
    for (let rep = 0; rep < reps; rep++) {
      const order = rep % 2 === 0 ? [0, 1] : [1, 0]
      for (const i of order) {
        const { runtime, tree } = runs[i]!
        ours.get(tree.name)!.push(await runtime.runPromise(block(tree, batches, batch)))
        const start = cpuMicros()
        for (let b = 0; b < batches; b++) raws[i]!.raw.insertBatch(batch)
        raw.get(tree.name)!.push((cpuMicros() - start) / (batches * batch))
      }
    }
    loads.push(os.loadavg().map((l) => l.toFixed(2)).join(" "))
    for (const { db } of raws) db.close()
    await Promise.all(runs.map(({ runtime }) => runtime.dispose()))
    console.log(`SQLite createJobs of ${batch}, "${durability}", CPU µs per job, median of ${reps} blocks of ${batches} batches:`)
    for (const tree of trees) {
      const [o, r] = [median(ours.get(tree.name)!), median(raw.get(tree.name)!)]
      console.log(`  ${tree.name}: ours ${o.toFixed(1)}, raw driver ${r.toFixed(1)} on the same schema, raw ÷ ours ${(r / o).toFixed(2)}×`)
    }
    console.log(`  mine ÷ base (ours): ${(median(ours.get("mine")!) / median(ours.get("base")!)).toFixed(2)}×`)
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  console.log(`load average (1/5/15 min) at start and end: ${loads.join(" | ")}`)
}

runMain(main)
