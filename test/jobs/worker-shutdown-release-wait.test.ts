/**
 * R8 graceful shutdown (new-user probe): after the drain time's interrupt, a
 * job whose program was interrupted at once but whose release — the
 * library's own write — waits on a lock another session holds (a PostgreSQL
 * table lock, SQLite's write lock) was named, one second later, among the
 * "program(s) that do not respond to interruption", beside a program that
 * really ignored the interrupt. Now the WARN tells them apart: the program
 * still running in one line, the job whose release waits on the database in
 * another. The release is still waited for (shutdown releases to queued).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { Jobs, type RunContext } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { openSqlite } from "../reliability/snapshot.js"
import { capturingLog } from "../support/capturedLog.js"
import { holdTable } from "../support/tableHold.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"
import { postgresShared, realSleep, type SharedBackend, type SharedDatabase, sharedBackends } from "./shared-database.js"

/** Far past the test: a release waits on the lock until it is let go. */
const LOCK_WAIT_MS = 60_000

/** Another session holding what a release writes until `release` (PostgreSQL: `ai_jobs`; SQLite: the write lock). */
const holdWrites = (database: SharedDatabase, backend: SharedBackend) =>
  Effect.gen(function*() {
    if (backend === postgresShared) return (yield* holdTable(database.url, "ai_jobs")).release
    const holder = yield* Effect.acquireRelease(Effect.sync(() => openSqlite(database.url, { timeout: 0 })), (db) => Effect.sync(() => db.close()))
    holder.exec("BEGIN IMMEDIATE")
    return Effect.sync(() => holder.exec("ROLLBACK"))
  })

for (const backend of sharedBackends) {
  describe(`the drain's WARN on ${backend.name}`, () => {
    it.live("R8 one second after the drain time's interrupt, a job whose program was interrupted and whose release waits on a lock is named as the library's write, not as a program that ignores interruption; the one that does is named apart; both are released once free", () => {
      const log = capturingLog(["WARN"])
      const letGo = Deferred.unsafeMake<void>(FiberId.none)
      return Effect.gen(function*() {
        const database = yield* backend.fresh("shutdown release wait")
        const store = yield* database.store({ busyTimeoutMs: LOCK_WAIT_MS })
        const jobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, store))), Jobs)
        const plain = yield* jobs.submit(summarize({ job_kind: "doc_summarize" }))
        const stubborn = yield* jobs.submit(summarize({ job_kind: "spec_router" }))
        const started = { doc_summarize: yield* Deferred.make<void>(), spec_router: yield* Deferred.make<void>() }
        // doc_summarize: a plain interruptible wait. spec_router: ignores the interrupt until let go.
        const handler = (ctx: RunContext) => {
          const begun = Deferred.succeed(started[ctx.job.job_kind as keyof typeof started], undefined)
          return ctx.job.job_kind === "spec_router"
            ? Effect.uninterruptible(Effect.zipRight(begun, Effect.as(Deferred.await(letGo), { done: "late" })))
            : Effect.zipRight(begun, Effect.never)
        }
        const pool = yield* Scope.make()
        yield* Scope.extend(jobs.worker({ concurrency: 2, pollInterval: "1 hour", drainTimeout: "200 millis", handler }), pool)
        yield* Deferred.await(started.doc_summarize)
        yield* Deferred.await(started.spec_router)
        const release = yield* holdWrites(database, backend)
        const closing = yield* Effect.fork(Scope.close(pool, Exit.void))
        const warnings = () => log.leveled.filter(([level]) => level === "WARN").map(([, line]) => line)
        const programs = () => warnings().filter((line) => line.includes("does not respond to interruption"))
        const library = () => warnings().filter((line) => line.includes("the library's own write of their run's end"))
        for (let i = 0; i < 400 && programs().length === 0; i++) yield* realSleep(25)
        assert.strictEqual(programs().length, 1, `one WARN names the programs: ${warnings().join(" | ")}`)
        assert.include(programs()[0], stubborn.job_id, "the program that ignores the interrupt")
        assert.notInclude(programs()[0], plain.job_id, "the interrupted program is not blamed")
        assert.strictEqual(library().length, 1, `one WARN names the release still waiting: ${warnings().join(" | ")}`)
        assert.include(library()[0], plain.job_id)
        assert.notInclude(library()[0], stubborn.job_id, "a program still running is not the library's write")
        // Read behind the store's back: on SQLite the store's one connection is the release's, waiting.
        const held = (yield* database.snapshot).jobs.find((row) => row.id === plain.job_id)
        assert.strictEqual(held?.status, "running", "its release still waited when the WARN was said")
        // The releases are still waited for: once the program ends and the lock goes, both jobs are back in the queue.
        yield* Deferred.succeed(letGo, undefined)
        yield* release
        yield* Fiber.join(closing)
        assert.deepStrictEqual(
          [(yield* store.getJob(plain.job_id)).state, (yield* store.getJob(stubborn.job_id)).state],
          ["queued", "queued"]
        )
        assert.strictEqual(programs().length + library().length, 2, "each said once")
      }).pipe(
        // Never left waiting: on code that fails above, the program ends.
        Effect.ensuring(Deferred.succeed(letGo, undefined)),
        Effect.scoped,
        log.provide
      )
    }, 60_000)
  })
}
