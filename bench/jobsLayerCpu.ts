/**
 * CPU per call of the Jobs layer's own parts (issue 16), side by side with a
 * base tree in one process, interleaved: a Jobs span around nothing
 * (`withJobSpan`), a lifecycle record build (`FlightRecorder.build`, a
 * remembered content re-addressed, as on every lifecycle) and a group-commit
 * call served alone (`Coalesce.make`, one worker). No database: the
 * JavaScript alone, where a whole lifecycle's CPU on a loaded machine hides a
 * few µs. Prints the median µs per call of each over `reps` rounds and the
 * load average. Not part of `npm run bench`.
 *
 *   npx tsx bench/jobsLayerCpu.ts <base checkout> [reps] [calls]
 */
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import type * as CoalesceModule from "../src/store/internal/coalesce.js"
import type * as JobSpanModule from "../src/internal/flight/jobSpan.js"
import type * as LibraryEventsModule from "../src/internal/flight/libraryEvents.js"
import type * as RedactorModule from "../src/internal/flight/Redactor.js"
import type { JobId, TraceId } from "../src/domain/Ids.js"
import { uuidv7 } from "../src/domain/uuidv7.js"
import { cpuMicros, median } from "./trees.js"
import { runMain } from "./runMain.js"

interface Parts {
  readonly name: string
  readonly cases: ReadonlyArray<readonly [string, () => Effect.Effect<unknown, unknown>]>
}

const load = async (name: string, root: string): Promise<Parts> => {
  const span = await import(path.join(root, "src/internal/flight/jobSpan.ts")) as typeof JobSpanModule
  const library = await import(path.join(root, "src/internal/flight/libraryEvents.ts")) as typeof LibraryEventsModule
  const redactor = await import(path.join(root, "src/internal/flight/Redactor.ts")) as typeof RedactorModule
  const coalesce = await import(path.join(root, "src/store/internal/coalesce.ts")) as typeof CoalesceModule
  const build = library.makeBuild({ redactor: redactor.make(), maxEventBytes: 65536 })
  const alone = coalesce.make<number, number, never>({ slots: 1, maxBatch: 64, one: Effect.succeed, many: (xs) => Effect.succeed(xs) })
  const ids = { job_id: uuidv7() as JobId, trace_id: uuidv7() as TraceId }
  return {
    name,
    cases: [
      ["withJobSpan(Effect.void)", () => span.withJobSpan("Jobs.op", () => Effect.void)],
      ["FlightRecorder.build (lifecycle)", () =>
        build({ kind: "lifecycle", actor: "system", ...ids, from_state: "queued", to_state: "running", attempt: 1 })],
      ["Coalesce call alone", () => alone(1)]
    ]
  }
}

const main = async () => {
  const [baseRoot, repsArg, callsArg] = process.argv.slice(2)
  if (baseRoot === undefined) throw new Error("usage: jobsLayerCpu.ts <base checkout> [reps] [calls]")
  const reps = Number(repsArg ?? 9)
  const calls = Number(callsArg ?? 20000)
  const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
  const trees = [await load("base", path.resolve(baseRoot)), await load("mine", here)]
  const samples = new Map<string, Array<number>>()
  const loads = [os.loadavg().map((x) => x.toFixed(1)).join(" ")]
  for (let rep = 0; rep < reps + 1; rep++) {
    // The tree that goes first alternates; round 0 warms up and is not kept.
    for (const tree of rep % 2 === 0 ? trees : [...trees].reverse()) {
      for (const [label, make] of tree.cases) {
        const program = Effect.gen(function*() {
          for (let i = 0; i < calls; i++) yield* make()
        })
        const start = cpuMicros()
        Effect.runSync(program)
        const perCall = (cpuMicros() - start) / calls
        if (rep === 0) continue
        const key = `${label}|${tree.name}`
        samples.set(key, [...(samples.get(key) ?? []), perCall])
      }
    }
  }
  loads.push(os.loadavg().map((x) => x.toFixed(1)).join(" "))
  console.log(`\n## CPU µs per call, median of ${reps} rounds of ${calls}, interleaved (load ${loads.join(" → ")})`)
  console.log("| part | base | mine | mine ÷ base |")
  console.log("|---|---|---|---|")
  for (const [label] of trees[0]!.cases) {
    const [b, m] = [median(samples.get(`${label}|base`)!), median(samples.get(`${label}|mine`)!)]
    console.log(`| ${label} | ${b.toFixed(2)} | ${m.toFixed(2)} | ${(m / b).toFixed(2)}× |`)
  }
}

runMain(main)
