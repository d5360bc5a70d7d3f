/**
 * `ai-jobs jobs show` reads one committed state (`JobStore.readConsistent`),
 * as `GET /jobs/:id` and `Jobs.history` do (test/http/detail-snapshot.test.ts,
 * test/jobs/history-snapshot.test.ts): a completion another process commits
 * while the real CLI, a separate OS process, reads the job is in none of what
 * it prints. The interleaving is forced on PostgreSQL: the completing
 * transaction first locks `workflow_runs`, so the CLI's read of the runs —
 * after its read of the job — waits for it; the completion is written and
 * committed only once the CLI is seen waiting. (SQLite's readers never wait
 * for a writer, so nothing outside the CLI's process can stop it between
 * two reads; the same `readConsistent` is forced on SQLite in process by the
 * two tests named above.)
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { engineOn } from "../engine/engine.js"
import { summarize } from "../jobs/jobs.suite.js"
import { postgresShared, untilLockWaiter } from "../jobs/shared-database.js"
import { rawPgClient } from "../support/pg-database.js"
import { runCli } from "./cli.js"

interface Shown {
  readonly job: { readonly state: string }
  readonly runs: ReadonlyArray<{ readonly status: string }>
  readonly events: ReadonlyArray<{ readonly to_state?: string }>
}

const show = (url: string, jobId: string) =>
  Effect.map(Effect.promise(() => runCli(["jobs", "show", jobId, "--json", "--database", url])), (result) => {
    assert.strictEqual(result.code, 0, result.stderr)
    return JSON.parse(result.stdout) as Shown
  })

describe("ai-jobs jobs show on PostgreSQL", () => {
  it.live("R17 R8 a completion another process commits while the CLI reads the job is in none of what it prints: job, runs and events agree", () =>
    Effect.gen(function*() {
      const database = yield* postgresShared.fresh("cli show snapshot")
      const { jobs } = yield* engineOn(database)
      const job = yield* jobs.submit(summarize())
      assert.strictEqual((yield* jobs.claimNext())?.job.job_id, job.job_id)
      const sql = Context.get(yield* Layer.build(rawPgClient(database.url)), SqlClient.SqlClient)
      const locked = yield* Deferred.make<void>()
      const go = yield* Deferred.make<void>()
      // The completing process: holds workflow_runs, then completes the job in the same transaction (the store joins it).
      const completion = yield* Effect.fork(sql.withTransaction(Effect.gen(function*() {
        yield* sql`LOCK TABLE workflow_runs IN ACCESS EXCLUSIVE MODE`
        yield* Deferred.succeed(locked, undefined)
        yield* Deferred.await(go)
        return yield* jobs.complete(job.job_id, { actor: "human", reason: "done by hand" })
      })))
      yield* Deferred.await(locked)
      const shown = yield* Effect.fork(show(database.url, job.job_id))
      // The CLI has read the job and waits to read its runs: now the completion is written and committed.
      yield* untilLockWaiter(database, postgresShared)
      yield* Deferred.succeed(go, undefined)
      assert.strictEqual((yield* Fiber.join(completion)).state, "completed")
      const during = yield* Fiber.join(shown)
      assert.strictEqual(during.job.state, "running")
      assert.deepStrictEqual(during.runs.map((run) => run.status), ["running"])
      assert.notInclude(during.events.map((event) => event.to_state), "completed", "the events agree with the job")
      const after = yield* show(database.url, job.job_id)
      assert.strictEqual(after.job.state, "completed")
      assert.deepStrictEqual(after.runs.map((run) => run.status), ["completed"])
      assert.include(after.events.map((event) => event.to_state), "completed")
    }).pipe(Effect.scoped), 120_000)
})
