/**
 * Another OS process cancelling a job, for issue 15.5:
 *   node --import tsx cancel-process.ts <sqlite file | postgres url> <job id>
 * Prints the cancelled job's state as one JSON line.
 */
import * as Effect from "effect/Effect"
import type { JobId } from "../../src/domain/Ids.js"
import * as Jobs from "../../src/Jobs.js"
import * as DatabaseUrl from "../../src/store/DatabaseUrl.js"
import { services } from "../jobs/services.js"

const [url, jobId] = process.argv.slice(2)
if (url === undefined || jobId === undefined) {
  console.error("usage: cancel-process.ts <database> <job id>")
  process.exit(2)
}

const app = services(DatabaseUrl.layerFromUrl(url))

const cancel = Effect.flatMap(Jobs.Jobs, (jobs) => jobs.cancel(jobId as JobId, { actor: "human", reason: "stop it" }))
Effect.runPromise(Effect.provide(cancel, app)).then(
  (job) => console.log(JSON.stringify({ state: job.state })),
  (error) => {
    console.error(String(error))
    process.exit(1)
  }
)
