/**
 * Why a pickup's client stretches cost several times what the same code
 * costs back to back (issue 16, h66): `npx tsx bench/pickupCold.ts [rounds]`.
 * No library code runs here: the same small pieces of work, each timed once
 * after an idle pause of 20–520 ms (as a pickup follows one) and once more
 * right after (the same piece has just run):
 *
 * - `pg` sending a named statement of 23 text parameters (a submit has 23):
 *   `query()`'s synchronous part — serialising Bind/Execute/Sync and the
 *   socket write — as this process's user CPU;
 * - the round trip of `SELECT 1` on the same connection (no commit);
 * - plain JavaScript in a tight loop: 20 JSON round trips of a small object.
 *
 * If the idle pause made the machine slow (a CPU clocked down, a parked
 * virtual CPU), every piece would slow alike. If what is lost is this
 * process's code and data in the CPU's caches (other processes ran on the
 * cores meanwhile), the piece that touches the most distinct code slows the
 * most and the tight loop the least. Medians; the load average at start and
 * end. Not part of `npm run bench`.
 */
import * as os from "node:os"
import { performance } from "node:perf_hooks"
import { connectPg } from "./drivers.js"
import { median } from "./harness.js"
import { startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"

const main = async () => {
  const rounds = Number(process.argv[2] ?? 60)
  const load = () => os.loadavg().map((n) => n.toFixed(2)).join(" ")
  console.log(`load average at start ${load()}`)
  const cluster = await startBenchCluster()
  const figures = new Map<string, Array<number>>()
  const record = (key: string, value: number) => figures.set(key, [...(figures.get(key) ?? []), value])
  try {
    const client = await connectPg(cluster.url)
    const values = Array.from({ length: 23 }, (_, i) => `value ${i} ${"x".repeat(20)}`)
    const text = `SELECT ${values.map((_, i) => `$${i + 1}::text`).join(", ")}`
    const small = { a: 1, b: "two", c: [1, 2, 3], d: { e: "f", g: null }, h: "2026-12-01T00:00:00.000Z" }
    const piece = async (when: string) => {
      const cpu = process.cpuUsage()
      const sent = client.query({ name: "cold_23", text, values })
      const used = process.cpuUsage(cpu)
      // User time only: the kernel's share is below what `cpuUsage` resolves here (mostly 0).
      record(`${when}|pg send, 23 parameters: user CPU`, used.user)
      await sent
      let start = performance.now()
      await client.query("SELECT 1")
      record(`${when}|SELECT 1 round trip`, (performance.now() - start) * 1000)
      start = performance.now()
      for (let i = 0; i < 20; i++) JSON.parse(JSON.stringify(small))
      record(`${when}|20 JSON round trips`, (performance.now() - start) * 1000)
    }
    for (let round = 0; round < rounds + 5; round++) {
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 500))
      // The first five warm the JIT up and are not counted.
      await piece(round < 5 ? "warm-up" : "after an idle pause")
      await piece(round < 5 ? "warm-up" : "right after")
    }
    await client.end()
  } finally {
    await cluster.stop()
  }
  console.log(`\n${rounds} rounds; medians in µs`)
  console.log(`  ${"piece".padEnd(36)} ${"after an idle pause".padStart(20)} ${"right after".padStart(12)}  ratio`)
  const pieces = [...new Set([...figures.keys()].map((key) => key.split("|")[1]!))]
  for (const name of pieces) {
    const idle = median(figures.get(`after an idle pause|${name}`) ?? [])
    const warm = median(figures.get(`right after|${name}`) ?? [])
    console.log(`  ${name.padEnd(36)} ${idle.toFixed(0).padStart(20)} ${warm.toFixed(0).padStart(12)}  ${(idle / warm).toFixed(2)}×`)
  }
  console.log(`load average at end ${load()}`)
}

runMain(main)
