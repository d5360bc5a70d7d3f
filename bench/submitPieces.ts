/**
 * `Jobs.submit` piece by piece (issue 16), side by side with a base tree in
 * one process, interleaved: CPU µs and Effect operations per call of the
 * whole submit and of what it is made of — the request's check
 * (`commonJobRequest`), the policy's verdict (`Capabilities.check`), the
 * recorder's two builds (capability decision + `queued`), the Jobs span around
 * nothing and the store's `createJob` given those records — back to back, and
 * the whole submit after an idle pause (a 20 ms sleep between submits, as a
 * pickup sees it). The Jobs layer's own share is the submit less its pieces.
 * Prints medians over `rounds` and the load average. Not part of `npm run bench`.
 *
 *   npx tsx bench/submitPieces.ts <base checkout> [sqlite|pg] [rounds] [calls]
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import type * as CapabilitiesModule from "../src/Capabilities.js"
import type * as FlightRecorderModule from "../src/FlightRecorder.js"
import type * as JobSpanModule from "../src/internal/flight/jobSpan.js"
import type * as OwnBuildModule from "../src/internal/flight/ownBuild.js"
import type * as AuditEventsModule from "../src/internal/jobs/auditEvents.js"
import type * as CheckModule from "../src/domain/newAiJobCheck.js"
import type { JobId, TraceId } from "../src/domain/Ids.js"
import { uuidv7 } from "../src/domain/uuidv7.js"
import type * as App from "./app.js"
import { startBenchCluster } from "./postgres.js"
import { countOperations } from "../test/support/effectOperations.js"
import { cpuMicros, loadTree, median, type Tree } from "./trees.js"
import { runMain } from "./runMain.js"

const PIECES = ["(counting itself: Effect.void)", "Jobs.submit", "  request check", "  Capabilities.check", "  2 record builds", "  Jobs span (empty)", "  store.createJob (2 records)"] as const
type Piece = typeof PIECES[number]
const IDLE = "Jobs.submit after 20 ms idle"

interface Loaded {
  readonly tree: Tree
  readonly runtime: ManagedRuntime.ManagedRuntime<App.Services, unknown>
  readonly piece: (name: Piece) => Effect.Effect<unknown, unknown, App.Services>
}

const load = async (tree: Tree, root: string, target: Parameters<Tree["app"]["servicesLayer"]>[0]): Promise<Loaded> => {
  const capabilitiesModule = await import(path.join(root, "src/Capabilities.ts")) as typeof CapabilitiesModule
  const recorderModule = await import(path.join(root, "src/FlightRecorder.ts")) as typeof FlightRecorderModule
  const span = await import(path.join(root, "src/internal/flight/jobSpan.ts")) as typeof JobSpanModule
  const audit = await import(path.join(root, "src/internal/jobs/auditEvents.ts")) as typeof AuditEventsModule
  const check = await import(path.join(root, "src/domain/newAiJobCheck.ts")) as typeof CheckModule
  const runtime = ManagedRuntime.make(tree.app.servicesLayer(target))
  const services = await runtime.runPromise(Effect.all({
    jobs: tree.jobs.Jobs,
    store: tree.store.JobStore,
    recorder: recorderModule.FlightRecorder,
    capabilities: capabilitiesModule.Capabilities
  }))
  // The library's own builder (ownBuild.ts); a tree from before it had only the service's, which was that builder.
  const ownBuildModule = await import(path.join(root, "src/internal/flight/ownBuild.ts")).catch(() => undefined) as typeof OwnBuildModule | undefined
  const build = ownBuildModule?.ownBuild(services.recorder) ?? services.recorder.build
  const { NEW_JOB } = tree.fixtures
  const records = (ids: { job_id: JobId; trace_id: TraceId }) =>
    Effect.all([
      build(audit.capabilityEvent({
        ...ids,
        decision: { capability_id: "doc.summarize", outcome: "allow", profile_id: "Analyst" } as never,
        actor_id: "Analyst"
      })),
      build(audit.lifecycleEvent({ job: ids, from: null, to: "queued", attempt: 1 }))
    ])
  const freshIds = () => ({ job_id: uuidv7() as JobId, trace_id: uuidv7() as TraceId })
  const piece = (name: Piece): Effect.Effect<unknown, unknown, App.Services> => {
    switch (name) {
      case "(counting itself: Effect.void)":
        return Effect.void
      case "Jobs.submit":
        return services.jobs.submit(NEW_JOB)
      case "  request check":
        return Effect.sync(() => check.commonJobRequest(NEW_JOB))
      case "  Capabilities.check":
        return services.capabilities.check({ job_kind: NEW_JOB.job_kind, protocol_id: NEW_JOB.protocol_id } as never, NEW_JOB.capability_profile_id)
      case "  2 record builds":
        return records(freshIds())
      case "  Jobs span (empty)":
        return span.withJobSpan("Jobs.x", () => Effect.void)
      case "  store.createJob (2 records)":
        return Effect.suspend(() => {
          const ids = freshIds()
          return Effect.flatMap(records(ids), (built) =>
            services.store.createJob({ ...tree.create.newJob, ...ids } as never, { events: tree.store.auditWith(built) }))
        })
    }
  }
  return { tree, runtime, piece }
}

/** CPU µs per call and Effect operations per call of `effect` run `calls` times back to back. */
const measure = <R>(effect: Effect.Effect<unknown, unknown, R>, calls: number) =>
  Effect.suspend(() => {
    let ops = 0
    const start = cpuMicros()
    return Effect.as(
      Effect.repeatN(Effect.map(countOperations(effect), ([, n]) => { ops += n }), calls - 1),
      undefined
    ).pipe(Effect.map(() => ({ cpu: (cpuMicros() - start) / calls, ops: ops / calls })))
  })

/** CPU µs of one submit after each of `calls` 20 ms sleeps. */
const idle = (loaded: Loaded, calls: number) =>
  Effect.gen(function*() {
    let cpu = 0
    for (let i = 0; i < calls; i++) {
      yield* Effect.sleep("20 millis")
      const start = cpuMicros()
      yield* loaded.piece("Jobs.submit")
      cpu += cpuMicros() - start
    }
    return cpu / calls
  })

const main = async () => {
  const [baseRoot, dialectArg, roundsArg, callsArg] = process.argv.slice(2)
  if (baseRoot === undefined) throw new Error("usage: submitPieces.ts <base checkout> [sqlite|pg] [rounds] [calls]")
  const dialect = dialectArg === "pg" ? "pg" : "sqlite"
  const rounds = Number(roundsArg ?? 7)
  const calls = Number(callsArg ?? 200)
  const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "submit-pieces-"))
  const cluster = dialect === "pg" ? await startBenchCluster() : undefined
  const roots = [["base", path.resolve(baseRoot)], ["mine", here]] as const
  const loaded: Array<Loaded> = []
  const cpu = new Map<string, Array<number>>()
  const ops = new Map<string, number>()
  const add = (key: string, value: number) => cpu.set(key, [...(cpu.get(key) ?? []), value])
  const loadStart = os.loadavg()
  try {
    for (const [name, root] of roots) {
      const tree = await loadTree(name, root)
      loaded.push(await load(tree, root, cluster !== undefined
        ? { dialect: "pg", url: await cluster.createDatabase(`pieces_${name}`) }
        : { dialect: "sqlite", filename: path.join(dir, `${name}.db`), durability: "full" }))
    }
    // Warm-up: every piece of each tree, not counted.
    for (const l of loaded) for (const p of PIECES) await l.runtime.runPromise(measure(l.piece(p), 50))
    for (let round = 0; round < rounds; round++) {
      for (const l of round % 2 === 0 ? loaded : [...loaded].reverse()) {
        for (const p of PIECES) {
          const m = await l.runtime.runPromise(measure(l.piece(p), calls))
          add(`${l.tree.name}:${p}`, m.cpu)
          ops.set(`${l.tree.name}:${p}`, m.ops)
        }
        add(`${l.tree.name}:${IDLE}`, await l.runtime.runPromise(idle(l, 20)))
      }
    }
  } finally {
    for (const l of loaded) await l.runtime.dispose()
    await cluster?.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
  const loadEnd = os.loadavg()
  const fmt = (xs: ReadonlyArray<number>) => xs.map((x) => x.toFixed(2)).join(", ")
  console.log(`\n## Jobs.submit piece by piece, ${dialect}, ${rounds} rounds × ${calls} calls, interleaved`)
  console.log(`load average start ${fmt(loadStart)}, end ${fmt(loadEnd)}`)
  console.log("| piece | base µs | mine µs | mine ÷ base | base ops | mine ops |")
  console.log("|---|---|---|---|---|---|")
  for (const p of [...PIECES, IDLE]) {
    const b = median(cpu.get(`base:${p}`) ?? [])
    const m = median(cpu.get(`mine:${p}`) ?? [])
    console.log(`| ${p} | ${b.toFixed(0)} | ${m.toFixed(0)} | ${(m / b).toFixed(2)}× | ${ops.get(`base:${p}`)?.toFixed(0) ?? "–"} | ${ops.get(`mine:${p}`)?.toFixed(0) ?? "–"} |`)
  }
}

runMain(main)
