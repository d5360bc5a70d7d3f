import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Scheduler from "effect/Scheduler"
import * as Scope from "effect/Scope"
import * as path from "node:path"
import * as Pg from "pg"
import { NEW_JOB } from "./fixtures.js"
import { startBenchCluster } from "./postgres.js"

let ops = 0, tasks = 0
const marks: Array<[string, number, number]> = []
const mark = (name: string) => marks.push([name, ops, tasks])
const queryPrototype = (Pg as any).Query.prototype
for (const method of ["handleReadyForQuery"]) {
  const original = queryPrototype[method]
  queryPrototype[method] = function(this: any, ...args: any[]) {
    mark(`ready ${String(this.text ?? "").replace(/\s+/g, " ").slice(0, 12)}`)
    return original.apply(this, args)
  }
}
const q = Pg.Client.prototype.query
Pg.Client.prototype.query = function(this: any, ...args: any[]) {
  mark(`send ${String(typeof args[0] === "string" ? args[0] : args[0]?.text ?? "").replace(/\s+/g, " ").slice(0, 12)}`)
  return (q as any).apply(this, args)
} as any
const scheduler: Scheduler.Scheduler = {
  scheduleTask: (task, priority) => { tasks++; Scheduler.defaultScheduler.scheduleTask(task, priority) },
  shouldYield: (fiber) => { ops++; return Scheduler.defaultScheduler.shouldYield(fiber) }
}
const main = async () => {
  const root = path.resolve(process.argv[2]!)
  const app = await import(path.join(root, "bench/app.ts"))
  const { Jobs } = await import(path.join(root, "src/Jobs.ts"))
  const WakeUp = await import(path.join(root, "src/WakeUp.ts"))
  const cluster = await startBenchCluster()
  const url = await cluster.createDatabase("x")
  const runtime = ManagedRuntime.make(app.servicesLayer({ dialect: "pg", url }, WakeUp.layerPg({ listenUrl: url })))
  const scope = await runtime.runPromise(Scope.make())
  let hit = () => {}
  const jobs: any = await runtime.runPromise(Effect.gen(function*() {
    const jobs: any = yield* Jobs
    yield* Scope.extend(Effect.withScheduler(jobs.worker({ concurrency: 1, handler: () => Effect.sync(() => { mark("program"); hit() }) }), scheduler), scope)
    yield* Effect.flatMap(WakeUp.WakeUp, (w: any) => w.ready)
    return jobs
  }) as any)
  const rows: Array<Array<[string, number, number]>> = []
  for (let i = 0; i < 25; i++) {
    await new Promise((r) => setTimeout(r, 300))
    marks.length = 0
    mark("begin")
    const started = new Promise<void>((r) => (hit = r))
    await runtime.runPromise(Effect.withScheduler(Effect.tap(jobs.submit(NEW_JOB), () => Effect.sync(() => mark("submitted"))), scheduler) as any)
    await started
    if (i >= 5) rows.push(marks.map(([n, o, t]) => [n, o - marks[0]![1], t - marks[0]![2]]))
  }
  for (const r of rows.slice(-3)) console.log(r.map(([n, o, t]) => `${n.padEnd(24)} ops ${o} tasks ${t}`).join("\n"), "\n")
  if (0) console.log(rows.at(-1)!.map(([n, o, t]) => `${n.padEnd(24)} ops ${o} tasks ${t}`).join("\n"))
  await runtime.runPromise(Scope.close(scope, Exit.void))
  await runtime.dispose()
  await cluster.stop()
}
void main()
