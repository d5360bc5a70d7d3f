/**
 * R17 a database (or role) with `idle_session_timeout` set — a common DBA
 * hardening — no longer ends the store's idle connections (found by a
 * fault-injection probe: at 1500 ms, jobs under load failed with
 * `JobStore.finishNode: … terminating connection due to idle-session
 * timeout` (57P05) and the LISTEN connection dropped 44 times). The pool
 * keeps idle connections for about 10 s and the store holds some for good;
 * each now sets the timeout to 0 for its own session with its first
 * statement, and so does the wake-up's listener. A connection the server
 * ends anyway (57P05, an admin's 57P01) is the database failing, not a
 * refusal: a worker's write is tried again on it (store/internal/outage.ts).
 */
import * as SqlError from "@effect/sql/SqlError"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { isOutage } from "../../src/store/internal/outage.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import { engineOn } from "../engine/engine.js"
import { summarize } from "../jobs/jobs.suite.js"
import { postgresShared, realSleep } from "../jobs/shared-database.js"
import { connectPg } from "../support/pg-database.js"

/** The server's idle-session timeout in this test: far below the gap the job idles through. */
const TIMEOUT = "300ms"
const IDLE_GAP_MS = 1_500

/** A store failure whose driver error is `cause`. */
const failedWith = (cause: unknown) => new StorageError({ operation: "JobStore.finishNode", cause: new SqlError.SqlError({ cause, message: "failed" }) })

describe("R17 PostgreSQL idle_session_timeout", () => {
  it.live("R17 the store's and the listener's connections outlive a database's idle_session_timeout: a job idling past it completes, no connection ended", () =>
    Effect.gen(function*() {
      const database = yield* postgresShared.fresh("idle session timeout")
      const admin = yield* Effect.acquireRelease(Effect.promise(() => connectPg(database.url)), (client) => Effect.promise(() => client.end()))
      const name = decodeURIComponent(new URL(database.url).pathname.slice(1))
      // Sessions begun from now on get it, as a role's or database's setting reaches every new session.
      yield* Effect.promise(() => admin.query(`ALTER DATABASE "${name}" SET idle_session_timeout = '${TIMEOUT}'`))
      const { jobs } = yield* engineOn(database, { wake: "dialect" })
      /** The library's sessions on the database, by pid. */
      const sessions = Effect.promise(async () =>
        (await admin.query<{ readonly pid: number; readonly application_name: string }>(
          `SELECT pid, application_name FROM pg_stat_activity
           WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name IN ('@handshake/ai-job-model', 'ai-job-model listener')
           ORDER BY pid`
        )).rows.map((row) => `${row.application_name} ${row.pid}`)
      )
      const job = yield* jobs.submit(summarize())
      yield* jobs.start(job.job_id)
      let before: ReadonlyArray<string> = []
      const result = yield* jobs.run(job.job_id, (ctx) =>
        Effect.gen(function*() {
          yield* ctx.node({ node_id: "draft", node_type: "llm" }, Effect.succeed({ text: "draft" }))
          before = yield* sessions
          // Every connection idles far past the server's timeout.
          yield* realSleep(IDLE_GAP_MS)
          return yield* ctx.node({ node_id: "final", node_type: "llm" }, Effect.succeed({ summary: "done" }))
        }))
      assert.deepStrictEqual(result, { summary: "done" })
      assert.isTrue(before.some((session) => session.startsWith("ai-job-model listener")), "the listener was connected")
      assert.isTrue(before.some((session) => session.startsWith("@handshake/ai-job-model")), "the store was connected")
      const after = yield* sessions
      assert.deepStrictEqual(before.filter((session) => !after.includes(session)), [], "no session was ended by the server")
      const ended = yield* jobs.get(job.job_id)
      assert.strictEqual(ended.state, "completed")
      assert.strictEqual(ended.attempt, 1)
    }).pipe(Effect.scoped), 30_000)

  it("R17 a connection the server ended (idle-session timeout 57P05, admin shutdown 57P01) or lost is an outage, tried again; a refusal is not", () => {
    assert.isTrue(isOutage("pg", failedWith(Object.assign(new Error("terminating connection due to idle-session timeout"), { code: "57P05", severity: "FATAL" }))))
    assert.isTrue(isOutage("pg", failedWith(Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01", severity: "FATAL" }))))
    assert.isTrue(isOutage("pg", failedWith(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }))))
    assert.isFalse(isOutage("pg", failedWith(Object.assign(new Error("duplicate key value"), { code: "23505", severity: "ERROR" }))))
    assert.isFalse(isOutage("pg", failedWith(Object.assign(new Error("canceling statement due to statement timeout"), { code: "57014", severity: "ERROR" }))))
    assert.isTrue(isOutage("sqlite", failedWith(Object.assign(new Error("database is locked"), { code: "SQLITE_BUSY" }))))
    assert.isFalse(isOutage("sqlite", failedWith(Object.assign(new Error("UNIQUE constraint failed"), { code: "SQLITE_CONSTRAINT_UNIQUE" }))))
    assert.isFalse(isOutage("pg", new StorageError({ operation: "JobStore.finishNode", cause: new Error("no driver's") })))
  })
})
