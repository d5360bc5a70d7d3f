/**
 * A claiming worker in its own process, for sqlite-file.test.ts:
 *
 *   node --import tsx test/store/sqlite-claimer.ts <database file>
 *
 * Opens the store, prints "ready", waits for a "go" line on stdin (so several
 * workers start claiming at the same moment), claims until the queue is empty
 * (working 5 ms after each claim, as a worker does) and prints the claimed job
 * ids as one JSON line.
 */
import * as Effect from "effect/Effect"
import { createInterface } from "node:readline"
import { JobStore } from "../../src/store/JobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { claimAll } from "../support/drain.js"

const filename = process.argv[2]
if (filename === undefined) throw new Error("usage: sqlite-claimer.ts <database file>")

const go = Effect.async<void>((resume) => {
  const lines = createInterface({ input: process.stdin })
  lines.on("line", (line) => {
    if (line.trim() !== "go") return
    lines.close()
    resume(Effect.void)
  })
})

const claimIds = Effect.gen(function*() {
  const store = yield* JobStore
  process.stdout.write("ready\n")
  yield* go
  // A worker works between claims: 5 ms here (120 jobs take one process alone at least 0.6 s, so
  // a second one slowed by a loaded machine still starts within it). With no work at all, one
  // process can take SQLite's write lock back to back (SQLite keeps no fair queue for it, and the
  // store's path from one COMMIT to its next BEGIN is now short), so the other's polls keep missing
  // the gap and it may claim nothing before the queue is empty: the "shared" check would then
  // measure SQLite's lock fairness and the machine's load, not our claim. Every claim still races.
  const claims = yield* claimAll(() => Effect.zipLeft(store.claimNext(), Effect.sleep("5 millis")))
  return claims.map((claim) => claim.job.job_id)
})

Effect.runPromise(Effect.provide(claimIds, SqliteStore.layer({ filename }))).then(
  (claimed) => process.stdout.write(`${JSON.stringify(claimed)}\n`),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  }
)
