/**
 * Issue 15.3, 15.4 and 15.8 on SQLite (a file) and PostgreSQL: worker pools
 * with per-kind handlers; two pools with disjoint kinds on one database (each
 * its own connections, as separate processes) never take each other's jobs;
 * an idle pool is woken by a submit (LISTEN/NOTIFY on PostgreSQL, in process
 * on SQLite) well before its poll; and the README's `it.effect` + worker
 * pattern runs under `TestClock`, the poll moved by `TestClock.adjust`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import * as TestServices from "effect/TestServices"
import type { JobKind } from "../../src/domain/JobKind.js"
import type { Handlers } from "../../src/Jobs.js"
import { summarize } from "../jobs/jobs.suite.js"
import { realSleep, sharedBackends } from "../jobs/shared-database.js"
import { engineOn, idlePoolStarts } from "./engine.js"

const EACH = 12

for (const backend of sharedBackends) {
  describe(`issue 15.3/15.4/15.8 worker pools on ${backend.name}`, () => {
    it.live("issue 15.4 two pools with disjoint kinds on one database never take each other's jobs; each kind's handler sees its own kind", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("disjoint pools")
        const submitter = yield* engineOn(database)
        const ran = yield* Ref.make<ReadonlyArray<readonly [pool: string, kind: JobKind]>>([])
        const record = (pool: string, kind: JobKind) => Ref.update(ran, (all) => [...all, [pool, kind] as const])
        const pool = (handlers: Handlers<never, never>) =>
          Effect.flatMap(engineOn(database, { maxConnections: 4 }), ({ jobs }) =>
            jobs.worker({ concurrency: 3, pollInterval: "50 millis", handlers }))
        yield* pool({
          doc_edit: (ctx) => Effect.as(record("edit", ctx.job.job_kind), { kind: ctx.job.job_kind }),
          doc_rewrite: (ctx) => record("edit", ctx.job.job_kind)
        })
        yield* pool({
          doc_summarize: (ctx) => record("summaries", ctx.job.job_kind)
        })
        const kinds: ReadonlyArray<JobKind> = ["doc_edit", "doc_rewrite", "doc_summarize"]
        const ids = yield* Effect.forEach(
          Array.from({ length: EACH * kinds.length }, (_, i) => kinds[i % kinds.length]!),
          (job_kind) => Effect.map(submitter.jobs.submit(summarize({ job_kind })), (job) => job.job_id),
          { concurrency: 4 }
        )
        const orphan = yield* submitter.jobs.submit(summarize({ job_kind: "terminal_exec" }))
        const done = yield* Effect.forEach(ids, (id) => submitter.jobs.await(id, { timeout: "60 seconds" }), { concurrency: 8 })
        assert.isTrue(done.every((job) => job.state === "completed"))
        const all = yield* Ref.get(ran)
        assert.strictEqual(all.length, ids.length, "each job ran once")
        for (const [pool, kind] of all) {
          assert.strictEqual(pool, kind === "doc_summarize" ? "summaries" : "edit", `${kind} ran on ${pool}`)
        }
        assert.strictEqual((yield* submitter.jobs.get(orphan.job_id)).state, "queued", "no pool has a handler for it")
      }).pipe(Effect.scoped), 120_000)

    it.live("issue 15.3 an idle pool is woken by a submit at once, long before its 30 s poll", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("wake pool")
        const { jobs } = yield* engineOn(database)
        assert.isTrue(yield* idlePoolStarts(jobs, jobs.submit(summarize())), "the program started without waiting for the poll")
      }).pipe(Effect.scoped), 60_000)

    it.live("issue 15.3 a job submitted from another process's store wakes the pool: by LISTEN/NOTIFY on PostgreSQL; on SQLite by the next poll", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("wake other")
        const { jobs } = yield* engineOn(database)
        const other = yield* engineOn(database)
        const poll = backend.name === "PostgreSQL" ? "30 seconds" : "500 millis"
        assert.isTrue(yield* idlePoolStarts(jobs, other.jobs.submit(summarize()), poll))
      }).pipe(Effect.scoped), 60_000)

    it.effect("issue 15.8 README pattern: it.effect + a worker + TestClock — a job another store queued is claimed when TestClock.adjust reaches the poll, not before", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("testclock poll")
        const { jobs } = yield* engineOn(database, { wake: "poll" })
        const other = yield* engineOn(database, { wake: "poll" })
        const started = yield* Deferred.make<void>()
        yield* jobs.worker({ concurrency: 1, pollInterval: "1 minute", handlers: { doc_summarize: () => Deferred.succeed(started, undefined) } })
        // Let the pool make its first (empty) claim in real time, then queue a job behind its back.
        yield* TestServices.provideLive(realSleep(300))
        const job = yield* other.jobs.submit(summarize())
        yield* TestServices.provideLive(realSleep(300))
        assert.isFalse(yield* Deferred.isDone(started), "the pool sleeps on the TestClock: no real-time poll")
        yield* TestClock.adjust("1 minute")
        yield* Deferred.await(started)
        // Read in real time: with polling only, awaiting would sleep on the TestClock too.
        let state = ""
        while (state !== "completed") {
          state = (yield* jobs.get(job.job_id)).state
          yield* TestServices.provideLive(realSleep(20))
        }
      }).pipe(Effect.scoped), 60_000)

    it.effect("issue 15.8 README pattern: it.effect + worker + submit + await completes under TestClock with no adjust at all", () =>
      Effect.gen(function*() {
        const { jobs } = yield* engineOn(yield* backend.fresh("testclock wake"))
        yield* jobs.worker({ concurrency: 2, handlers: { doc_summarize: (ctx) => Effect.succeed({ summary: ctx.job.job_id }) } })
        const job = yield* jobs.submit(summarize())
        const done = yield* jobs.await(job.job_id)
        assert.deepInclude(done, { state: "completed", job_outputs: { summary: job.job_id } })
      }).pipe(Effect.scoped), 60_000)
  })
}

// A pool with no handler for a kind never claims it: the types say so too.
export const _typedByKind: Handlers<never, never> = {
  doc_edit: (ctx) => Effect.succeed({ kind: ctx.job.job_kind satisfies "doc_edit" }),
  // @ts-expect-error a key that is no job kind does not compile
  doc_edt: () => Effect.void
}
