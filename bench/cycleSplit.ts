/**
 * What one worker's cycle is made of (issue 16, stop 40): ours through Jobs
 * against the floor (our own statements replayed raw, bench/pgReplay.ts), one
 * job at a time on one throwaway cluster, in alternating blocks. Per
 * lifecycle: the cycle's wall time, the statements' round trips (from the
 * query handed to `pg` to the server's ReadyForQuery, bench/pgStatementHooks.ts),
 * the gap between them (the client's time outside any round trip), the
 * process's CPU (every thread), and each statement's median round trip.
 *
 * With `BURN=<µs>` the floor does that much plain JavaScript (allocating
 * small objects, as ours does) before each lifecycle: the floor plus a
 * client of that cost, to set beside ours. Not part of `npm run bench`.
 *
 *   npm run bench:build && node .bench-build/bench/cycleSplit.js [lifecycles a block] [blocks a system]
 */
import * as os from "node:os"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { migrateTarget, servicesLayer } from "./app.js"
import { oneLifecycle } from "./lifecycle.js"
import { captureLifecycle, replayer } from "./pgReplay.js"
import { hookStatements, statementLabels } from "./pgStatementHooks.js"
import { startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"
import { cpuMicros, median } from "./trees.js"

interface Block {
  readonly cycle: number
  readonly roundTrips: number
  readonly statements: number
  readonly cpu: number
}

/** About `micros` µs of JavaScript that allocates short-lived objects, as a client's work between statements does. */
const burn = (micros: number): void => {
  if (micros <= 0) return
  const until = performance.now() + micros / 1000
  let objects: Array<{ readonly x: number; readonly y: string }> = []
  while (performance.now() < until) {
    objects.push({ x: Math.random(), y: `s${objects.length}` })
    if (objects.length > 500) objects = []
  }
}

const main = async () => {
  const [lifecyclesArg, blocksArg] = process.argv.slice(2)
  const lifecycles = Number(lifecyclesArg ?? 500)
  const blocks = Number(blocksArg ?? 6)
  const burnMicros = Number(process.env.BURN ?? 0)
  const cluster = await startBenchCluster()
  try {
    const captured = await captureLifecycle(await cluster.createDatabase("cycle_capture"))
    const floorUrl = await cluster.createDatabase("cycle_floor")
    await migrateTarget({ dialect: "pg", url: floorUrl })
    const replay = await replayer(floorUrl, captured)
    const runtime = ManagedRuntime.make(servicesLayer({ dialect: "pg", url: await cluster.createDatabase("cycle_ours") }))
    const systems: ReadonlyArray<readonly [string, () => Promise<void>]> = [
      ["ours", () => runtime.runPromise(Effect.repeatN(oneLifecycle, lifecycles - 1))],
      [burnMicros > 0 ? `floor + ${burnMicros} µs of JavaScript` : "floor", async () => {
        for (let i = 0; i < lifecycles; i++) {
          burn(burnMicros)
          await replay.one()
        }
      }]
    ]
    for (const [, run] of systems) await run() // warm-up (and ours' migrations), not counted

    // One worker: one statement in flight at a time, so a round trip is from its send to the next ReadyForQuery.
    let current = ""
    let sentAt = 0
    let readyAt = 0
    let roundTrips = 0
    let statements = 0
    const label = statementLabels(40)
    // Per statement: its round trip, and the client's time before it since the last statement's reply (the first
    // statement of a block has none).
    const perStatement = new Map<string, { readonly took: Array<number>; readonly before: Array<number> }>()
    hookStatements({
      sent: () => {
        sentAt = performance.now()
      },
      ready: (text) => {
        const now = performance.now()
        const took = (now - sentAt) * 1000
        roundTrips += took
        const key = `${current}: ${label(text)}`
        const entry = perStatement.get(key) ?? { took: [], before: [] }
        entry.took.push(took)
        if (statements > 0) entry.before.push((sentAt - readyAt) * 1000)
        perStatement.set(key, entry)
        statements++
        readyAt = now
      }
    })
    const results = new Map<string, Array<Block>>()
    for (let block = 0; block < blocks; block++) {
      for (const [name, run] of block % 2 === 0 ? systems : [...systems].reverse()) {
        current = name
        roundTrips = 0
        statements = 0
        const cpu = cpuMicros()
        const start = performance.now()
        await run()
        const cycle = (performance.now() - start) * 1000 / lifecycles
        results.set(name, [...(results.get(name) ?? []), {
          cycle,
          roundTrips: roundTrips / lifecycles,
          statements: statements / lifecycles,
          cpu: (cpuMicros() - cpu) / lifecycles
        }])
      }
    }
    console.log(`\n${blocks} blocks of ${lifecycles} lifecycles a system, one worker (medians of blocks, µs a lifecycle)`)
    console.log("| system | cycle | round trips | statements | gap (cycle − round trips) | process CPU |")
    console.log("|---|---|---|---|---|---|")
    for (const [name, rows] of results) {
      const m = (f: (b: Block) => number) => median(rows.map(f)).toFixed(0)
      console.log(`| ${name} | ${m((b) => b.cycle)} | ${m((b) => b.roundTrips)} | ${median(rows.map((b) => b.statements)).toFixed(2)} | ${m((b) => b.cycle - b.roundTrips)} | ${m((b) => b.cpu)} |`)
    }
    console.log("\n| statement | median round trip µs | median client time before it µs |\n|---|---|---|")
    for (const [key, { before, took }] of [...perStatement].sort(([a], [b]) => a.localeCompare(b))) {
      console.log(`| ${key} | ${median(took).toFixed(0)} | ${before.length === 0 ? "" : median(before).toFixed(0)} |`)
    }
    console.log(`\nload ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`)
    await runtime.dispose()
    await replay.check()
    await replay.close()
  } finally {
    await cluster.stop()
  }
}

runMain(main)
