/**
 * A worker pool in another OS process, for the race tests of a job's end
 * (cancel-settle-race.test.ts):
 *   node --import tsx pool-process.ts <sqlite file | postgres url>
 * It runs one job at a time; each program prints `@@started <job id>` and
 * waits for a line `finish` on stdin, then succeeds. Once that job has
 * settled (whoever settled it) it prints `@@end <state>` and closes the pool.
 * The pool's own log lines (a run taken away, …) go to stdout too.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as readline from "node:readline"
import type { JobId } from "../../src/domain/Ids.js"
import * as Jobs from "../../src/Jobs.js"
import * as DatabaseUrl from "../../src/store/DatabaseUrl.js"
import { services } from "./services.js"

const [url] = process.argv.slice(2)
if (url === undefined) {
  console.error("usage: pool-process.ts <database>")
  process.exit(2)
}

const main = Effect.gen(function*() {
  const jobs = yield* Jobs.Jobs
  const finish = yield* Deferred.make<void>()
  readline.createInterface({ input: process.stdin }).on("line", (line) => {
    if (line.trim() === "finish") Deferred.unsafeDone(finish, Effect.void)
  })
  const started = yield* Deferred.make<JobId>()
  yield* jobs.worker({
    concurrency: 1,
    pollInterval: "50 millis",
    run: { heartbeatInterval: "1 hour" },
    handler: (ctx) =>
      Effect.gen(function*() {
        yield* Deferred.succeed(started, ctx.job.job_id)
        yield* Effect.sync(() => console.log(`@@started ${ctx.job.job_id}`))
        yield* Deferred.await(finish)
        return { summary: "from another process" }
      })
  })
  const jobId = yield* Deferred.await(started)
  const ended = yield* jobs.await(jobId, { pollInterval: "50 millis" })
  yield* Effect.sync(() => console.log(`@@end ${ended.state}`))
}).pipe(Effect.scoped, Effect.provide(services(DatabaseUrl.layerFromUrl(url))))

Effect.runPromise(main).then(
  () => process.exit(0),
  (error) => {
    console.error(String(error))
    process.exit(1)
  }
)
