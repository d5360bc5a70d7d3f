/**
 * `JobStore.createJob` one at a time, CPU per call, side by side with a base
 * tree (issue 16): `npx tsx bench/createCpu.ts <base checkout> [reps] [calls]`
 * runs, on a throwaway PostgreSQL cluster and a SQLite file (at `"normal"`,
 * so the fsync does not drown the JavaScript), `reps` rounds of `calls`
 * creates through each tree's own store, the tree that goes first
 * alternating round by round, and prints the median CPU µs of this process
 * per call (`process.cpuUsage` around each block: JavaScript, the driver and
 * the kernel's socket work — not PostgreSQL's) and mine ÷ base, with the
 * load average. Not part of `npm run bench`.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { startBenchCluster } from "./postgres.js"
import { type Tree, cpuMicros, loadTree, median } from "./trees.js"
import { runMain } from "./runMain.js"

/** CPU µs per call of `calls` creates through `tree`'s store. */
const block = (tree: Tree, calls: number) =>
  Effect.gen(function*() {
    const store = yield* tree.store.JobStore
    const start = cpuMicros()
    for (let i = 0; i < calls; i++) yield* store.createJob(tree.create.newJob)
    return (cpuMicros() - start) / calls
  })

const main = async () => {
  const [baseRoot, repsArg, callsArg] = process.argv.slice(2)
  if (baseRoot === undefined) throw new Error("usage: createCpu.ts <base checkout> [reps] [calls]")
  const reps = Number(repsArg ?? 6)
  const calls = Number(callsArg ?? 500)
  const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
  const trees = [await loadTree("base", path.resolve(baseRoot)), await loadTree("mine", here)]
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-create-cpu-"))
  const cluster = await startBenchCluster()
  const loads = [os.loadavg().map((l) => l.toFixed(1)).join(" ")]
  try {
    for (const dialect of ["pg", "sqlite"] as const) {
      const runtimes = await Promise.all(trees.map(async (tree) => ({
        tree,
        runtime: ManagedRuntime.make(tree.app.storeLayer(
          dialect === "pg"
            ? { dialect, url: await cluster.createDatabase(`create_cpu_${tree.name}`) }
            : { dialect, filename: path.join(tmp, `${tree.name}.db`), durability: "normal" }
        ))
      })))
      const perCall = new Map<string, Array<number>>(trees.map((tree) => [tree.name, []]))
      for (const { runtime, tree } of runtimes) await runtime.runPromise(block(tree, 100))
      for (let rep = 0; rep < reps; rep++) {
        for (const { runtime, tree } of rep % 2 === 0 ? runtimes : [...runtimes].reverse()) {
          perCall.get(tree.name)!.push(await runtime.runPromise(block(tree, calls)))
        }
      }
      loads.push(os.loadavg().map((l) => l.toFixed(1)).join(" "))
      await Promise.all(runtimes.map(({ runtime }) => runtime.dispose()))
      const [base, mine] = [median(perCall.get("base")!), median(perCall.get("mine")!)]
      console.log(`${dialect}: createJob CPU µs a call, median of ${reps} blocks of ${calls}: base ${base.toFixed(0)}, mine ${mine.toFixed(0)}, mine ÷ base ${(mine / base).toFixed(2)}×`)
    }
  } finally {
    await cluster.stop()
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  console.log(`load average (1/5/15 min) at start and after each dialect: ${loads.join(" | ")}`)
}

runMain(main)
