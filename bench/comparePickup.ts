/**
 * Pickup latency of two checkouts side by side, with graphile-worker, in one
 * run (issue 16, h31): `npx tsx bench/comparePickup.ts <base checkout>
 * [samples]`. Each round takes one sample of each system in turn (`base` and `mine` swapping places every other round), so drift on
 * a loaded machine hits all alike; each sample as bench/pickup.ts takes it
 * (an idle worker, a random pause, ms from the call to submit to the
 * program's start), on a database of its own on one server:
 *
 * - `base`, `mine`: the checkout's one-loop pool in this process, woken by
 *   LISTEN/NOTIFY (and, where the checkout has it, by the submit in process);
 * - `mine, worker in another process`: this checkout's pool in a child
 *   process (bench/pickupChild.ts), woken only by the database's NOTIFY —
 *   the figure without the in-process shortcut. The start time comes back as
 *   wall-clock time (`performance.timeOrigin + now`);
 * - `graphile-worker`: its runner in this process (bench/baselines), which
 *   a job added in its own process wakes only through its NOTIFY.
 *
 * Prints p50/p90/p99 and the process CPU per pickup (this process only: the
 * child's is not in it), with the load average at start and end.
 *
 *   git worktree add --detach /tmp/base main && ln -s "$PWD/node_modules" /tmp/base/node_modules
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Scheduler from "effect/Scheduler"
import * as Scope from "effect/Scope"
import { fork } from "node:child_process"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import type * as App from "./app.js"
import type * as JobsModule from "../src/Jobs.js"
import type * as WakeUpModule from "../src/WakeUp.js"
import { NEW_JOB } from "./fixtures.js"
import { percentile } from "./harness.js"
import { graphileSampler } from "./pickup.js"
import { startBenchCluster } from "./postgres.js"

/** One system under test: `sample` submits one job and resolves with ms from submit to the program's start. */
interface System {
  readonly name: string
  readonly sample: () => Promise<number>
  readonly stop: () => Promise<void>
}

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const wallClock = () => performance.timeOrigin + performance.now()

/** A latch the handler opens: `next()` gives the promise of the next start. */
const startLatch = () => {
  let open: () => void = () => {}
  return { next: () => new Promise<void>((resolve) => (open = resolve)), hit: () => open() }
}

const loadTree = async (root: string) => ({
  app: await import(path.join(root, "bench/app.ts")) as typeof App,
  Jobs: (await import(path.join(root, "src/Jobs.ts")) as typeof JobsModule).Jobs,
  WakeUp: await import(path.join(root, "src/WakeUp.ts")) as typeof WakeUpModule
})

/** The checkout's idle one-loop pool in this process, submits through its own Jobs. */
const inProcess = async (name: string, root: string, url: string): Promise<System> => {
  const tree = await loadTree(root)
  const runtime = ManagedRuntime.make(tree.app.servicesLayer({ dialect: "pg", url }, tree.WakeUp.layerPg({ listenUrl: url })))
  const scope = await runtime.runPromise(Scope.make())
  const latch = startLatch()
  const jobs = await runtime.runPromise(Effect.gen(function*() {
    const jobs = yield* tree.Jobs
    yield* Scope.extend(jobs.worker({ concurrency: 1, handler: () => Effect.sync(latch.hit) }), scope)
    yield* Effect.flatMap(tree.WakeUp.WakeUp, (wake) => wake.ready)
    return jobs
  }))
  return {
    name,
    sample: async () => {
      const begin = performance.now()
      const started = latch.next()
      await runtime.runPromise(jobs.submit(NEW_JOB))
      await started
      return performance.now() - begin
    },
    stop: async () => {
      await runtime.runPromise(Scope.close(scope, Exit.void))
      await runtime.dispose()
    }
  }
}

/** This checkout's pool in a child process; submits from this process, whose Jobs runs no worker (polls only). */
const crossProcess = async (url: string): Promise<System> => {
  const tree = await loadTree(here)
  const runtime = ManagedRuntime.make(tree.app.servicesLayer({ dialect: "pg", url }, tree.WakeUp.layerPollOnly))
  const jobs = await runtime.runPromise(tree.Jobs)
  const child = fork(path.join(here, "bench/pickupChild.ts"), [here, url], { execArgv: ["--import", "tsx"] })
  let onStart: (at: number) => void = () => {}
  await new Promise<void>((resolve, reject) => {
    child.once("error", reject)
    child.on("message", (message) => {
      if (message === "ready") resolve()
      else onStart((message as { readonly started: number }).started)
    })
  })
  return {
    name: "mine, worker in another process",
    sample: async () => {
      const begin = wallClock()
      const started = new Promise<number>((resolve) => (onStart = resolve))
      await runtime.runPromise(jobs.submit(NEW_JOB))
      return (await started) - begin
    },
    stop: async () => {
      const exited = new Promise((resolve) => child.once("exit", resolve))
      child.disconnect()
      await exited
      await runtime.dispose()
    }
  }
}

const graphile = async (url: string): Promise<System> => ({ name: "graphile-worker", ...await graphileSampler(url) })

/**
 * The Effect operations (the runtime's one `shouldYield` question per
 * operation) and scheduled tasks (fiber starts and resumptions) from the call
 * to submit to the program's start, per pickup, through the checkout's
 * in-process pool: a deterministic figure, unlike time on a shared machine.
 * The pool and the submit run under the counting scheduler; a listener's
 * own fiber (where a checkout forks one per notification) is not counted.
 */
const countOps = async (root: string, url: string, count: number) => {
  const tree = await loadTree(root)
  let ops = 0
  let tasks = 0
  const scheduler: Scheduler.Scheduler = {
    scheduleTask: (task, priority) => {
      tasks++
      Scheduler.defaultScheduler.scheduleTask(task, priority)
    },
    shouldYield: (fiber) => {
      ops++
      return Scheduler.defaultScheduler.shouldYield(fiber)
    }
  }
  const runtime = ManagedRuntime.make(tree.app.servicesLayer({ dialect: "pg", url }, tree.WakeUp.layerPg({ listenUrl: url })))
  const scope = await runtime.runPromise(Scope.make())
  let atStart: [number, number] = [0, 0]
  const latch = startLatch()
  const jobs = await runtime.runPromise(Effect.gen(function*() {
    const jobs = yield* tree.Jobs
    const handler = () => Effect.sync(() => { atStart = [ops, tasks]; latch.hit() })
    yield* Scope.extend(Effect.withScheduler(jobs.worker({ concurrency: 1, handler }), scheduler), scope)
    yield* Effect.flatMap(tree.WakeUp.WakeUp, (wake) => wake.ready)
    return jobs
  }))
  const perPickup: Array<[number, number]> = []
  for (let i = 0; i < count + 5; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 100))
    const started = latch.next()
    const before: [number, number] = [ops, tasks]
    await runtime.runPromise(Effect.withScheduler(jobs.submit(NEW_JOB), scheduler))
    await started
    // The first five warm the claim memo and the recorder up.
    if (i >= 5) perPickup.push([atStart[0] - before[0], atStart[1] - before[1]])
  }
  await runtime.runPromise(Scope.close(scope, Exit.void))
  await runtime.dispose()
  return { ops: percentile(perPickup.map((p) => p[0]), 50), tasks: percentile(perPickup.map((p) => p[1]), 50) }
}

const main = async () => {
  const [baseRoot, samplesArg] = process.argv.slice(2)
  if (baseRoot === undefined) throw new Error("usage: comparePickup.ts <base checkout> [samples]")
  const count = Number(samplesArg ?? 60)
  const load = () => os.loadavg().map((n) => n.toFixed(2)).join(" ")
  console.log(`load average at start ${load()}`)
  const cluster = await startBenchCluster()
  const systems: Array<System> = []
  try {
    const opsBase = await countOps(path.resolve(baseRoot), await cluster.createDatabase("pickup_ops_base"), 30)
    const opsMine = await countOps(here, await cluster.createDatabase("pickup_ops_mine"), 30)
    console.log(`Effect operations from submit to the program's start, p50 of 30 pickups: base ${opsBase.ops} (${opsBase.tasks} scheduled tasks), mine ${opsMine.ops} (${opsMine.tasks})`)
    systems.push(await inProcess("base", path.resolve(baseRoot), await cluster.createDatabase("pickup_base")))
    systems.push(await inProcess("mine", here, await cluster.createDatabase("pickup_mine")))
    systems.push(await crossProcess(await cluster.createDatabase("pickup_cross")))
    systems.push(await graphile(await cluster.createDatabase("pickup_graphile")))
    const latency = systems.map(() => [] as Array<number>)
    const cpu = systems.map(() => [] as Array<number>)
    for (let round = 0; round < count; round++) {
      // `base` and `mine` swap places every other round (h66), so each follows the other tree in half
      // the rounds and graphile-worker in the other half. A pickup right after another tree's runs
      // in code that one has just warmed (both trees share effect, pg and node's own code): in a
      // fixed order `mine` always came right after `base`, and two identical trees gave 0.94×
      // (CPU 0.93×); reversing the whole order instead put `base` after `base` or `mine` every
      // round (1.11×, 1.13×).
      const order = round % 2 === 0 ? [0, 1, 2, 3] : [1, 0, 2, 3]
      for (const i of order) {
        const system = systems[i]!
        // Idle, as bench/pickup.ts: a random pause so no poll or timer is in phase with the submit.
        await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 300))
        const cpu0 = process.cpuUsage()
        latency[i]!.push(await system.sample())
        const used = process.cpuUsage(cpu0)
        cpu[i]!.push((used.user + used.system) / 1000)
      }
    }
    console.log(`\npickup latency, ms from submit to the program's start (${count} samples each, interleaved)`)
    for (const [i, system] of systems.entries()) {
      const v = latency[i]!
      console.log(
        `  ${system.name.padEnd(34)} p50 ${percentile(v, 50).toFixed(2).padStart(6)}  p90 ${percentile(v, 90).toFixed(2).padStart(6)}` +
          `  p99 ${percentile(v, 99).toFixed(2).padStart(6)}   CPU here ms/pickup p50 ${percentile(cpu[i]!, 50).toFixed(2)}`
      )
    }
    const p50 = (name: string) => percentile(latency[systems.findIndex((s) => s.name === name)]!, 50)
    console.log(`  mine ÷ base p50 ${(p50("mine") / p50("base")).toFixed(2)}; ÷ graphile-worker: mine ${(p50("mine") / p50("graphile-worker")).toFixed(2)}, base ${(p50("base") / p50("graphile-worker")).toFixed(2)}, cross-process ${(p50("mine, worker in another process") / p50("graphile-worker")).toFixed(2)}`)
  } finally {
    for (const system of systems) await system.stop()
    await cluster.stop()
    console.log(`load average at end ${load()}`)
  }
}

void main()
