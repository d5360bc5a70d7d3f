/**
 * Issue 15.5 on SQLite (a file) and PostgreSQL: `Jobs.cancel` from another OS
 * process stops a running program — on PostgreSQL through the notification
 * channel, at once (the run's heartbeat is an hour away, so nothing else can
 * tell it); on SQLite at its next heartbeat. In the same process on SQLite,
 * at once. The job ends `cancelled` once, with one event, and the program is
 * stopped with `RunLost` — nothing more written for the run.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import type { JobId } from "../../src/domain/Ids.js"
import type { Jobs } from "../../src/Jobs.js"
import type { JobStore } from "../../src/store/JobStore.js"
import { summarize } from "../jobs/jobs.suite.js"
import { sharedBackends } from "../jobs/shared-database.js"
import { engineOn } from "./engine.js"

const script = fileURLToPath(new URL("./cancel-process.ts", import.meta.url))
const cancelElsewhere = (url: string, jobId: string) =>
  Effect.promise(() => promisify(execFile)(process.execPath, ["--import", "tsx", script, url, jobId], { timeout: 60_000 }))

/** Runs a job whose program never ends by itself; returns the job, the run's fiber and the program's start. */
const runForever = (jobs: Jobs["Type"], heartbeatInterval: Duration.DurationInput) =>
  Effect.gen(function*() {
    const job = yield* jobs.submit(summarize())
    yield* jobs.claimNext()
    const started = yield* Deferred.make<void>()
    const stopped = yield* Deferred.make<void>()
    const running = yield* Effect.fork(jobs.run(job.job_id, () =>
      Effect.zipRight(Deferred.succeed(started, undefined), Effect.onInterrupt(Effect.never, () => Deferred.succeed(stopped, undefined))), { heartbeatInterval }))
    yield* Deferred.await(started)
    return { job, running, stopped }
  })

/** The job ended cancelled once, with one event to `cancelled`, its run cancelled and no node written after. */
const endedCancelledOnce = (jobs: Jobs["Type"], store: JobStore["Type"], jobId: JobId) =>
  Effect.gen(function*() {
    const history = yield* jobs.history(jobId)
    assert.strictEqual(history.job.state, "cancelled")
    assert.strictEqual(history.events.filter((event) => event.body["to_state"] === "cancelled").length, 1)
    assert.deepStrictEqual(history.runs.map(({ run }) => run.status), ["cancelled"])
    assert.strictEqual((yield* store.getJob(jobId)).status_reason, "stop it")
  })

for (const backend of sharedBackends) {
  const pg = backend.name === "PostgreSQL"
  describe(`issue 15.5 cancellation reaches the worker on ${backend.name}`, () => {
    it.live(`issue 15.5 a cancel from another process stops the running program ${pg ? "at once (notification; heartbeat an hour away)" : "at its next heartbeat"}; cancelled once, one event`, () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("cancel process")
        const { jobs, store } = yield* engineOn(database)
        const { job, running, stopped } = yield* runForever(jobs, pg ? "1 hour" : "500 millis")
        yield* cancelElsewhere(database.url, job.job_id)
        const ended = yield* Fiber.await(running).pipe(Effect.timeoutOption("20 seconds"))
        assert.isTrue(Option.isSome(ended), "the program was stopped")
        const exit = Option.getOrThrow(ended)
        assert.isTrue(exit._tag === "Failure" && String(exit.cause).includes("RunLost"), String(exit))
        assert.isTrue(yield* Deferred.isDone(stopped), "the program itself was interrupted")
        yield* endedCancelledOnce(jobs, store, job.job_id)
      }).pipe(Effect.scoped), 90_000)

    it.live("issue 15.5 a cancel in the same process stops the running program at once, the heartbeat an hour away", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("cancel local")
        const { jobs, store } = yield* engineOn(database)
        const { job, running } = yield* runForever(jobs, "1 hour")
        yield* jobs.cancel(job.job_id, { actor: "human", reason: "stop it" })
        const ended = yield* Fiber.await(running).pipe(Effect.timeoutOption("20 seconds"))
        assert.isTrue(Option.isSome(ended), "the program was stopped")
        yield* endedCancelledOnce(jobs, store, job.job_id)
      }).pipe(Effect.scoped), 60_000)
  })
}
