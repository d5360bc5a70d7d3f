/**
 * Issue 16.2: what each SQLite durability costs, side by side in one run.
 * On a WAL file, times creating a job and a job's whole lifecycle (submit,
 * claim, heartbeat, complete, every audit event written) with
 * `durability: "normal"` and `"full"`, rounds interleaved.
 *
 *   npx tsx bench/sqliteDurability.ts [N]
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { mkdtempSync, rmSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import * as Capabilities from "../src/Capabilities.js"
import * as FlightRecorder from "../src/FlightRecorder.js"
import { Jobs } from "../src/Jobs.js"
import * as JobsModule from "../src/Jobs.js"
import * as Recovery from "../src/Recovery.js"
import * as WakeUp from "../src/WakeUp.js"
import { JobStore } from "../src/store/JobStore.js"
import * as SqliteJobStore from "../src/store/SqliteJobStore.js"
import { newJob } from "./create.js"
import { NEW_JOB } from "./fixtures.js"

const N = Number(process.argv[2] ?? 300)
const ROUNDS = 3
const durabilities: ReadonlyArray<SqliteJobStore.SqliteDurability> = ["normal", "full"]

const app = (filename: string, durability: SqliteJobStore.SqliteDurability) =>
  JobsModule.layer().pipe(
    Layer.provideMerge(Recovery.layerNoStartupRecovery),
    Layer.provideMerge(WakeUp.layerPollOnly),
    Layer.provideMerge(FlightRecorder.layer()),
    Layer.provideMerge(Capabilities.layerDefault),
    Layer.provideMerge(SqliteJobStore.layer({ filename, durability }))
  )

const perSecond = (startedAt: bigint) => N / (Number(process.hrtime.bigint() - startedAt) / 1e9)

const measure = Effect.gen(function*() {
  const jobs = yield* Jobs
  const store = yield* JobStore
  // The lifecycle first, on an empty queue: the one worker claims the job it just submitted.
  let startedAt = process.hrtime.bigint()
  for (let i = 0; i < N; i++) {
    yield* jobs.submit(NEW_JOB)
    const claim = yield* jobs.claimNext()
    if (claim === null) return yield* Effect.die(new Error("nothing to claim"))
    yield* store.heartbeat(claim.run.id)
    yield* jobs.complete(claim.job.job_id)
  }
  const lifecycle = perSecond(startedAt)
  startedAt = process.hrtime.bigint()
  for (let i = 0; i < N; i++) yield* store.createJob(newJob)
  return { create: perSecond(startedAt), lifecycle }
})

const dir = mkdtempSync(join(tmpdir(), "hsk-durability-"))
try {
  console.log(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(" ")}; ${N} per sample, ${ROUNDS} interleaved rounds`)
  const results = new Map<string, Array<{ readonly create: number; readonly lifecycle: number }>>()
  for (let round = 0; round < ROUNDS; round++) {
    for (const durability of durabilities) {
      const sample = await Effect.runPromise(
        Effect.scoped(Effect.flatMap(Layer.build(app(join(dir, `${durability}-${round}.db`), durability)), (ctx) => Effect.provide(measure, ctx)))
      )
      results.set(durability, [...(results.get(durability) ?? []), sample])
    }
  }
  const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  for (const [durability, samples] of results) {
    console.log(`  durability "${durability}": create ${median(samples.map((s) => s.create)).toFixed(0)}/s, lifecycle ${median(samples.map((s) => s.lifecycle)).toFixed(0)}/s  (rounds: ${samples.map((s) => `${s.create.toFixed(0)}/${s.lifecycle.toFixed(0)}`).join(", ")})`)
  }
  console.log(`load average at end: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
