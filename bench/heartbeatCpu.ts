/**
 * One store statement's client CPU against the driver's (issue 16): CPU µs
 * per `JobStore.heartbeat` of a base tree and this one, and per raw `pg`
 * query of the same statement as a named prepared statement (the floor: the
 * driver's own work and the kernel's socket work), 6 rounds of 1,000 each,
 * interleaved, on one throwaway cluster. The heartbeat is the one lifecycle
 * step that is the store alone (no Jobs layer), so what it costs above the
 * raw query is the store's per-statement overhead. Not part of `npm run bench`.
 *
 *   npx tsx bench/heartbeatCpu.ts <base checkout>
 */
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { connectPg } from "./drivers.js"
import { startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"
import { cpuMicros, loadTree, median } from "./trees.js"

const CALLS = 1_000
const ROUNDS = 6

const main = async () => {
  const [baseRoot] = process.argv.slice(2)
  if (baseRoot === undefined) throw new Error("usage: heartbeatCpu.ts <base checkout>")
  const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
  const trees = [await loadTree("base", path.resolve(baseRoot)), await loadTree("mine", here)]
  const cluster = await startBenchCluster()
  const loads = [os.loadavg().map((l) => l.toFixed(1)).join(" ")]
  const cpu = new Map<string, Array<number>>()
  try {
    const variants: Array<{ readonly name: string; readonly round: () => Promise<number> }> = []
    const runtimes: Array<ManagedRuntime.ManagedRuntime<unknown, unknown>> = []
    let rawRun: string | undefined
    let rawUrl: string | undefined
    for (const tree of trees) {
      const url = await cluster.createDatabase(`heartbeat_${tree.name}`)
      const runtime = ManagedRuntime.make(tree.app.servicesLayer({ dialect: "pg", url }))
      runtimes.push(runtime as ManagedRuntime.ManagedRuntime<unknown, unknown>)
      const runId = await runtime.runPromise(Effect.gen(function*() {
        const jobs = yield* tree.jobs.Jobs
        yield* jobs.submit(tree.fixtures.NEW_JOB)
        const claim = yield* jobs.claimNext()
        if (claim === null) throw new Error("no claim")
        return claim.run.id
      }))
      rawRun ??= runId
      rawUrl ??= url
      const beat = Effect.flatMap(tree.store.JobStore, (store) => store.heartbeat(runId))
      variants.push({
        name: tree.name,
        round: () =>
          runtime.runPromise(Effect.gen(function*() {
            const start = cpuMicros()
            for (let i = 0; i < CALLS; i++) yield* beat
            return (cpuMicros() - start) / CALLS
          }))
      })
    }
    // The same UPDATE … RETURNING through `pg` alone, named (parsed once per connection).
    const raw = await connectPg(rawUrl!)
    const text = `UPDATE workflow_runs r SET last_heartbeat = $1::timestamptz, updated_at = $1::timestamptz
      FROM (SELECT set_config('synchronous_commit', 'off', true)) AS unwaited
      WHERE r.id = $2 AND r.status = 'running' RETURNING r.*`
    variants.push({
      name: "raw pg",
      round: async () => {
        const start = cpuMicros()
        for (let i = 0; i < CALLS; i++) await raw.query({ name: "beat", text, values: [new Date().toISOString(), rawRun] })
        return (cpuMicros() - start) / CALLS
      }
    })
    for (const v of variants) await v.round() // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      for (const v of round % 2 === 0 ? variants : [...variants].reverse()) cpu.set(v.name, [...(cpu.get(v.name) ?? []), await v.round()])
      loads.push(os.loadavg().map((l) => l.toFixed(1)).join(" "))
    }
    await raw.end()
    await Promise.all(runtimes.map((runtime) => runtime.dispose()))
  } finally {
    await cluster.stop()
  }
  console.log(`\n## client CPU µs per heartbeat, ${ROUNDS} rounds of ${CALLS}, interleaved`)
  console.log(`load average: ${loads.join(" | ")}`)
  for (const [name, values] of cpu) console.log(`| ${name} | ${median(values).toFixed(1)} | ${values.map((v) => v.toFixed(0)).join(", ")} |`)
}

runMain(main)
