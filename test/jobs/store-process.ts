/**
 * A separate OS process working on a shared SQLite file, for the exactly-once
 * and no-double-claim tests:
 *   node --import tsx store-process.ts <recover|claim> <file> <start at, epoch ms>
 * Prints one JSON line with what this process did.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as FlightRecorder from "../../src/FlightRecorder.js"
import * as Jobs from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import type { JobStore } from "../../src/store/JobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { claimAll } from "../support/drain.js"
import { services } from "./services.js"

const [mode, filename, startAt] = process.argv.slice(2)
if ((mode !== "recover" && mode !== "claim") || filename === undefined) {
  console.error("usage: store-process.ts <recover|claim> <sqlite file>")
  process.exit(2)
}

const app = services(SqliteStore.layer({ filename, migrate: false, busyTimeoutMs: 20_000 }))

const recover = Effect.map(
  // Small batches so the two processes interleave.
  Recovery.recoverStalledRuns({ threshold: Duration.seconds(30), batchSize: 3 }),
  (report) => ({ recovered: report.recovered.map((run) => run.id) })
)

const claim = Effect.gen(function*() {
  const jobs = yield* Jobs.Jobs
  const claims = yield* claimAll(() => jobs.claimNext())
  return { claimed: claims.map((next) => next.job.job_id) }
})

// Both processes start their work at the same wall-clock instant, so they really overlap.
const waitForStart = Effect.promise(() =>
  new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, Number(startAt ?? 0) - Date.now())))
)
const work: Effect.Effect<unknown, unknown, Jobs.Jobs | JobStore | FlightRecorder.FlightRecorder> = mode === "recover" ? recover : claim
const program = Effect.zipRight(waitForStart, work)
Effect.runPromise(Effect.provide(program, app)).then(
  (result) => console.log(JSON.stringify(result)),
  (error) => {
    console.error(String(error))
    process.exit(1)
  }
)
