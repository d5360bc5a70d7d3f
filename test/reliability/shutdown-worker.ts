/**
 * A worker process for the graceful-shutdown part of the reliability campaign
 * (shutdown.test.ts): a `Jobs.worker` pool, run the way an application would
 * run one, that stops gracefully on SIGTERM.
 *
 *   node --import tsx test/reliability/shutdown-worker.ts
 *
 * Configured by environment:
 *   HSK_DATABASE  a SQLite file path or a postgres:// URL (Storage.layerFromUrl)
 *   HSK_DRAIN_MS  the pool's drain time
 *   HSK_FAST      "1": every job's work takes 20 ms, whatever it asks for
 *
 * Each job's work is one persisted node that takes `job_inputs.work_ms`
 * milliseconds. SIGTERM interrupts the main fiber: the pool's scope closes,
 * it stops claiming, lets running programs finish within the drain time and
 * releases the rest to `queued`; then the process exits 0. Messages to the
 * parent are `@@{json}` lines (protocol.ts).
 */
import * as fs from "node:fs"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { Jobs, type RunContext } from "../../src/Jobs.js"
import * as Storage from "../../src/store/DatabaseUrl.js"
import { services } from "../jobs/services.js"
import { MARK, type WorkerMessage } from "./protocol.js"

const database = process.env["HSK_DATABASE"]
if (database === undefined) throw new Error("shutdown-worker: HSK_DATABASE is not set")
const drainMs = Number(process.env["HSK_DRAIN_MS"] ?? "1000")
const fast = process.env["HSK_FAST"] === "1"

const emit = (message: WorkerMessage): void => {
  fs.writeSync(1, `${MARK}${JSON.stringify(message)}\n`)
}

const workMs = (context: RunContext): number => {
  const inputs = context.job.job_inputs as { readonly work_ms?: unknown } | null
  return fast ? 20 : typeof inputs?.work_ms === "number" ? inputs.work_ms : 100
}

const handler = (context: RunContext) =>
  Effect.gen(function*() {
    emit({ t: "handling", job: context.job.job_id, run: context.run.id })
    const result = yield* context.node(
      { node_id: "work", node_type: "llm", input: { work_ms: workMs(context) } },
      Effect.as(Effect.sleep(Duration.millis(workMs(context))), { worked_ms: workMs(context) })
    )
    emit({ t: "finished", job: context.job.job_id })
    return result
  })

const program = Effect.gen(function*() {
  const jobs = yield* Jobs
  yield* jobs.worker({
    concurrency: 3,
    pollInterval: Duration.millis(30),
    drainTimeout: Duration.millis(drainMs),
    run: { heartbeatInterval: Duration.millis(100) },
    handler
  })
  emit({ t: "ready" })
  return yield* Effect.never
})

const main = Effect.scoped(program).pipe(Effect.provide(services(Storage.layerFromUrl(database))))

let stoppingAt = 0
const fiber = Effect.runFork(main)
process.once("SIGTERM", () => {
  stoppingAt = Date.now()
  emit({ t: "stopping" })
  Effect.runFork(Fiber.interrupt(fiber))
})
fiber.addObserver((exit) => {
  if (Cause.isInterruptedOnly(exit._tag === "Failure" ? exit.cause : Cause.empty) && stoppingAt > 0) {
    emit({ t: "stopped", ms: Date.now() - stoppingAt })
    process.exit(0)
  }
  emit({ t: "fatal", detail: exit._tag === "Failure" ? Cause.pretty(exit.cause).slice(0, 4000) : "the worker ended on its own" })
  process.exit(3)
})
