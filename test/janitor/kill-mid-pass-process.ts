/**
 * A Janitor pass killed (SIGKILL) where its retention has purged and its
 * pruning has not committed, for test/janitor/kill-mid-pass.test.ts:
 *
 *   HSK_CHILD_ARGV='["<database>", "<purge batch size>", "<hold|plain>"]' node kill-mid-pass-process.ts
 *
 * Opens the (migrated) database, and runs `Janitor.runOnce` (prune age 30
 * days) with a recorder whose retention is 1 hour (real clock) and purge
 * batch the one given. `hold`: the store's `pruneJobs`, when called, says
 * `pruning` and never returns, so the process waits there to be killed,
 * before the pruning's COMMIT. `plain`: the real store, for a test that makes
 * the pruning wait on a lock it holds.
 *
 * Every message is a `@@{json}` line written synchronously (protocol.ts), so
 * a line printed before a SIGKILL reaches the parent.
 */
import * as fs from "node:fs"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as FlightRecorder from "../../src/FlightRecorder.js"
import * as Janitor from "../../src/Janitor.js"
import * as DatabaseUrl from "../../src/store/DatabaseUrl.js"
import { JobStore } from "../../src/store/JobStore.js"
import { MARK } from "../reliability/protocol.js"

// Arguments as a JSON array in HSK_CHILD_ARGV (how test/reliability/children.ts passes them), else on the command line.
const argv: ReadonlyArray<string> = process.env["HSK_CHILD_ARGV"] !== undefined ? JSON.parse(process.env["HSK_CHILD_ARGV"]) : process.argv.slice(2)
const [url, batch, mode] = argv

const emit = (message: Record<string, unknown>): void => {
  fs.writeSync(1, `${MARK}${JSON.stringify(message)}\n`)
}

const program = Effect.gen(function*() {
  const real = Context.get(yield* Layer.build(DatabaseUrl.layerFromUrl(url!, { migrate: false })), JobStore)
  const store: JobStore["Type"] = mode === "plain" ? real : {
    ...real,
    pruneJobs: (options) => Effect.zipRight(Effect.zipRight(Effect.sync(() => emit({ t: "pruning" })), Effect.never), real.pruneJobs(options))
  }
  yield* Janitor.runOnce({ olderThan: "30 days" }).pipe(
    Effect.provide(FlightRecorder.layer({ retention: "1 hour", purgeBatchSize: Number(batch) }).pipe(Layer.provideMerge(Layer.succeed(JobStore, store))))
  )
  emit({ t: "unexpected", detail: "the pass ended" })
}).pipe(Effect.scoped)

if (url === undefined || batch === undefined || (mode !== "hold" && mode !== "plain")) {
  console.error("usage: kill-mid-pass-process.ts <database> <purge batch size> <hold|plain>")
  process.exit(2)
}
Effect.runPromise(program).then(
  () => process.exit(0),
  (error) => {
    emit({ t: "fatal", detail: String(error) })
    process.exit(1)
  }
)
