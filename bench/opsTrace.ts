/**
 * Which Effect operations a lifecycle step evaluates, one by one (issue 16):
 * `npx tsx bench/opsTrace.ts [pg|sqlite] [step]` runs a few warm-up
 * lifecycles, then one more, and lists for each step (or only `step`) every
 * operation the fiber runtime evaluated on the step's fibers — its opcode
 * and where it comes from (the start of the function it carries). A count
 * says how many (bench/effectOps.ts); this says which, so a cut can be aimed.
 * It wraps the runtime's opcode handlers on the fiber prototype while a step
 * runs: a diagnostic, slow, never for timing. Not part of `npm run bench`.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { Jobs } from "../src/Jobs.js"
import { JobStore } from "../src/store/JobStore.js"
import { servicesLayer } from "./app.js"
import { NEW_JOB } from "./fixtures.js"
import { startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"

const OPCODES = [
  "Sync", "Success", "Failure", "WithRuntime", "OnSuccess", "OnFailure", "OnSuccessAndFailure", "Async", "Yield",
  "While", "Iterator", "UpdateRuntimeFlags", "Tag", "Commit"
] as const

/** A function's first line, squeezed: enough to find it in the source. */
const where = (value: unknown): string => {
  if (typeof value !== "function") return ""
  const text = Function.prototype.toString.call(value).replace(/\s+/g, " ")
  return text.slice(0, 110)
}

/** What an operation carries that names it: its function (or continuation), else its class. */
const describe = (op: Record<string, unknown>): string => {
  const fn = op["effect_instruction_i0"]
  const second = op["effect_instruction_i1"]
  if (typeof fn === "function") return where(fn)
  if (typeof second === "function") return where(second)
  return op.constructor?.name ?? ""
}

let log: Array<string> | undefined
const install = (prototype: Record<string, unknown>) => {
  for (const code of OPCODES) {
    const handler = prototype[code]
    if (typeof handler !== "function") continue
    prototype[code] = function(this: unknown, op: Record<string, unknown>) {
      log?.push(`${code.padEnd(19)} ${describe(op)}`)
      return (handler as (op: unknown) => unknown).call(this, op)
    }
  }
}

const traced = <A, E, R>(name: string, effect: Effect.Effect<A, E, R>, only: string | undefined) =>
  Effect.suspend(() => {
    if (only !== undefined && only !== name) return effect
    log = []
    return Effect.ensuring(effect, Effect.sync(() => {
      const ops = log!
      log = undefined
      console.log(`\n## ${name}: ${ops.length} operations`)
      for (const line of ops) console.log(line)
    }))
  })

const program = (only: string | undefined) =>
  Effect.gen(function*() {
    install(yield* Effect.withFiberRuntime<Record<string, unknown>>((fiber) => Effect.succeed(Object.getPrototypeOf(fiber))))
    const service = yield* Jobs
    const store = yield* JobStore
    for (let i = 0; i < 21; i++) {
      const last = i === 20
      const step = <A, E, R>(name: string, effect: Effect.Effect<A, E, R>) => last ? traced(name, effect, only) : effect
      yield* step("submit", service.submit(NEW_JOB))
      const claim = yield* step("claim", service.claimNext())
      if (claim === null) throw new Error("the job just queued was not claimed")
      yield* step("heartbeat", store.heartbeat(claim.run.id))
      yield* step("complete", service.complete(claim.job.job_id))
    }
  })

const main = async () => {
  const [dialectArg, only] = process.argv.slice(2)
  const dialect = dialectArg === "sqlite" ? "sqlite" : "pg"
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ops-trace-"))
  const cluster = dialect === "pg" ? await startBenchCluster() : undefined
  try {
    const runtime = ManagedRuntime.make(servicesLayer(
      cluster !== undefined
        ? { dialect: "pg", url: await cluster.createDatabase("ops_trace") }
        : { dialect: "sqlite", filename: path.join(dir, "ops.db"), durability: "normal" }
    ))
    await runtime.runPromise(program(only))
    await runtime.dispose()
  } finally {
    await cluster?.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

runMain(main)
