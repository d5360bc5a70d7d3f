/**
 * The SQLite lifecycle's JavaScript under a CPU profile (issue 16):
 * `oneLifecycle` (submit → claim → heartbeat → complete, the lifecycle
 * benchmark's unit) many times on a SQLite file, after a warm-up. Run it
 * under the profiler and summarise:
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/profileSqliteLifecycle.ts [n] [normal|full]
 *   npx tsx bench/cpuProfileSummary.ts /tmp/prof/<file>.cpuprofile
 *
 * Not part of `npm run bench`.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import * as Effect from "effect/Effect"
import { withServices } from "./app.js"
import { oneLifecycle } from "./lifecycle.js"
import { runMain } from "./runMain.js"

const main = async () => {
  const n = Number(process.argv[2] ?? 2000)
  const durability = process.argv[3] === "full" ? "full" : "normal"
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-profile-sqlite-"))
  try {
    const target = { dialect: "sqlite", filename: path.join(tmp, "lifecycle.db"), durability } as const
    await withServices(target, Effect.gen(function*() {
      for (let i = 0; i < 200; i++) yield* oneLifecycle
      const start = performance.now()
      for (let i = 0; i < n; i++) yield* oneLifecycle
      const ms = performance.now() - start
      console.log(`${n} lifecycles on a SQLite file (durability ${durability}): ${ms.toFixed(0)} ms, ${(ms * 1000 / n).toFixed(0)} µs each`)
    }))
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

runMain(main)
