/**
 * examples/worker-app.ts's process (`runWorkerProcess`) with a pool whose
 * programs never finish by themselves, so a stop finds them running:
 *   node --import tsx held-worker.ts <sqlite file | postgres url>
 * Prints `started <job id>` on stdout as each program starts.
 */
import * as Effect from "effect/Effect"
import { runWorkerProcess } from "../../examples/worker-app.js"
import { Jobs } from "../../src/index.js"

const [database] = process.argv.slice(2)
if (database === undefined) {
  console.error("usage: held-worker.ts <database>")
  process.exit(2)
}

const held = Effect.flatMap(Jobs.Jobs, (jobs) =>
  jobs.worker({
    concurrency: 2,
    drainTimeout: "20 seconds",
    handlers: { doc_summarize: (ctx) => Effect.zipRight(Effect.sync(() => process.stdout.write(`started ${ctx.job.job_id}\n`)), Effect.never) }
  }))

runWorkerProcess(database, held)
