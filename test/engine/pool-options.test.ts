/**
 * Bad input past the types (R17's "a clear, typed error and changes
 * nothing"), for the engine's options, on SQLite and PostgreSQL:
 *
 * - a worker pool (`Jobs.worker`) whose options are unsound — a concurrency
 *   that is NaN, fractional or below 1, handlers under a key that is no kind
 *   (the legacy alias included), no handler at all, `kinds: []` or unknown
 *   kinds, a poll interval of zero or a word, a drain time that is NaN or
 *   below zero (as a number, a text or a pair), a misspelt option — fails
 *   at start with a typed `DecodeFailure` naming each option, which
 *   `catchTag("DecodeFailure")` catches (it was a defect), and claims nothing
 *   (before this a NaN concurrency or unknown kinds left it silently idle);
 * - a pool's `kinds` and `Jobs.claimNext`'s read `term_exec` as
 *   `terminal_exec` (R1a), as every other reader of a kind does, and
 *   `Jobs.claimNext` with unknown kinds is a `DecodeFailure` while `kinds: []`
 *   claims nothing (the store's port decoded them already: held here beside
 *   the pool's new check);
 * - `Jobs.run`'s `heartbeatInterval` that is zero, negative, infinite or a
 *   word, or a misspelt one, is a `DecodeFailure` before the run is taken, the program not
 *   started (it was a defect in the heartbeat fiber, or a tight loop).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { DecodeFailure } from "../../src/domain/Errors.js"
import type { WorkerOptions } from "../../src/Jobs.js"
import { summarize } from "../jobs/jobs.suite.js"
import { realSleep, sharedBackends } from "../jobs/shared-database.js"
import { engineOn } from "./engine.js"

const program = () => Effect.succeed({ ok: true })

/** Option sets past the types, each with the option its refusal must name. */
const unsound: ReadonlyArray<readonly [string, Record<string, unknown>, string]> = [
  ["concurrency NaN", { concurrency: Number.NaN, handler: program }, "concurrency"],
  ["concurrency 2.5", { concurrency: 2.5, handler: program }, "concurrency"],
  ["concurrency 0", { concurrency: 0, handler: program }, "concurrency"],
  ["concurrency -1", { concurrency: -1, handler: program }, "concurrency"],
  ["concurrency \"4\"", { concurrency: "4", handler: program }, "concurrency"],
  ["concurrency missing", { handler: program }, "concurrency"],
  ["handlers under an unknown kind", { concurrency: 1, handlers: { doc_sumarize: program } }, "handlers.doc_sumarize"],
  ["handlers under the legacy alias", { concurrency: 1, handlers: { term_exec: program } }, "handlers.term_exec"],
  ["a handler that is no function", { concurrency: 1, handlers: { doc_summarize: "run it" } }, "handlers.doc_summarize"],
  ["handlers empty", { concurrency: 1, handlers: {} }, "handlers"],
  ["no handler", { concurrency: 1 }, "handler"],
  ["handlers and handler both", { concurrency: 1, handlers: { doc_summarize: program }, handler: program }, "handlers"],
  ["kinds empty", { concurrency: 1, handler: program, kinds: [] }, "kinds"],
  ["kinds unknown", { concurrency: 1, handler: program, kinds: ["doc_summarize", "bogus"] }, "kinds.1"],
  ["kinds not an array", { concurrency: 1, handler: program, kinds: "doc_summarize" }, "kinds"],
  ["pollInterval zero", { concurrency: 1, handler: program, pollInterval: 0 }, "pollInterval"],
  ["pollInterval a word", { concurrency: 1, handler: program, pollInterval: "soon" }, "pollInterval"],
  ["pollInterval infinite", { concurrency: 1, handler: program, pollInterval: Infinity }, "pollInterval"],
  ["drainTimeout NaN", { concurrency: 1, handler: program, drainTimeout: Number.NaN }, "drainTimeout"],
  ["drainTimeout negative", { concurrency: 1, handler: program, drainTimeout: -5 }, "drainTimeout"],
  // Effect's parser reads these as zero: every program interrupted at once when the pool closed.
  ["drainTimeout negative text", { concurrency: 1, handler: program, drainTimeout: "-20 seconds" }, "drainTimeout"],
  ["drainTimeout negative pair", { concurrency: 1, handler: program, drainTimeout: [-20, 0] }, "drainTimeout"],
  // Misspelt options were dropped and their defaults stood in.
  ["drainTimeout misspelt", { concurrency: 1, handler: program, drainTimout: "60 seconds" }, "drainTimout"],
  ["eagerDispatch misspelt", { concurrency: 1, handler: program, eagerDispatsh: false }, "eagerDispatsh"],
  ["run.heartbeatInterval misspelt", { concurrency: 1, handler: program, run: { heartbeatIntervl: "2 seconds" } }, "heartbeatIntervl"],
  ["eagerDispatch \"no\"", { concurrency: 1, handler: program, eagerDispatch: "no" }, "eagerDispatch"],
  ["run.heartbeatInterval zero", { concurrency: 1, handler: program, run: { heartbeatInterval: 0 } }, "heartbeatInterval"]
]


for (const backend of sharedBackends) {
  describe(`R17 the engine's options past the types on ${backend.name}`, () => {
    it.live("R17 a worker pool with unsound options fails at start with a typed DecodeFailure naming the option (catchTag catches it), and claims nothing", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("pool options")
        const { jobs } = yield* engineOn(database)
        const waiting = yield* jobs.submit(summarize())
        for (const [name, options, path] of unsound) {
          const exit = yield* Effect.exit(Effect.scoped(Effect.zipRight(
            jobs.worker(options as unknown as WorkerOptions<never, never>),
            realSleep(50)
          )).pipe(Effect.catchTag("DecodeFailure", Effect.succeed)))
          const refusal = Exit.isSuccess(exit) && exit.value instanceof DecodeFailure ? exit.value : undefined
          assert.isDefined(refusal, `${name}: the pool fails with a typed DecodeFailure (exit ${String(exit)})`)
          assert.strictEqual(refusal!.subject, name.startsWith("run.") ? "RunOptions" : "WorkerOptions", name)
          assert.include(refusal!.issues.map((issue) => issue.path), path, name)
          assert.strictEqual((yield* jobs.get(waiting.job_id)).state, "queued", `${name}: nothing claimed`)
        }
        assert.strictEqual((yield* jobs.history(waiting.job_id)).runs.length, 0)
      }).pipe(Effect.scoped), 60_000)

    it.live("R1a a pool's kinds and claimNext's read term_exec as terminal_exec; claimNext refuses unknown kinds and claims nothing for none", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("kinds alias")
        const { jobs } = yield* engineOn(database)
        const terminal = yield* jobs.submit(summarize({ job_kind: "terminal_exec" }))
        const unknown = yield* Effect.either(jobs.claimNext({ kinds: ["terminal_exec", "shell"] as never }))
        assert.isTrue(unknown._tag === "Left" && unknown.left._tag === "DecodeFailure", "unknown kind refused")
        assert.deepStrictEqual(unknown._tag === "Left" && unknown.left._tag === "DecodeFailure" ? unknown.left.issues.map((i) => i.path) : [], ["kinds.1"])
        assert.isNull(yield* jobs.claimNext({ kinds: [] }), "no kinds: nothing claimed")
        assert.strictEqual((yield* jobs.get(terminal.job_id)).state, "queued", "refusals claimed nothing")
        const claim = yield* jobs.claimNext({ kinds: ["term_exec"] as never })
        assert.strictEqual(claim?.job.job_id, terminal.job_id, "term_exec claims terminal_exec")
        yield* jobs.complete(terminal.job_id)

        const second = yield* jobs.submit(summarize({ job_kind: "terminal_exec" }))
        yield* jobs.worker({ concurrency: 1, pollInterval: "50 millis", kinds: ["term_exec" as never], handler: program })
        const done = yield* jobs.await(second.job_id, { timeout: "30 seconds" })
        assert.strictEqual(done.state, "completed", "a pool of kinds [term_exec] runs terminal_exec jobs")
      }).pipe(Effect.scoped), 60_000)

    it.live("R17 Jobs.run's heartbeatInterval past the types, or misspelt, is a DecodeFailure before the run is taken: program not started, nothing written", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("heartbeat interval")
        const { jobs } = yield* engineOn(database)
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        const before = yield* jobs.history(job.job_id)
        for (const interval of [0, -1, Infinity, "often", Number.NaN, "0 millis"]) {
          let started = false
          const result = yield* Effect.either(jobs.run(job.job_id, () => Effect.sync(() => {
            started = true
          }), { heartbeatInterval: interval as never }))
          assert.isTrue(result._tag === "Left" && result.left._tag === "DecodeFailure", `${String(interval)} refused`)
          assert.deepStrictEqual(result._tag === "Left" && result.left._tag === "DecodeFailure" ? result.left.issues.map((i) => i.path) : [], ["heartbeatInterval"])
          assert.isFalse(started, `${String(interval)}: program not started`)
        }
        // A misspelt option dropped: the run beat at the default 10 s instead of the interval meant.
        const misspelt = yield* Effect.either(jobs.run(job.job_id, () => Effect.void, { heartbeatIntervl: "20 millis" } as never))
        assert.deepStrictEqual(
          misspelt._tag === "Left" && misspelt.left._tag === "DecodeFailure" ? misspelt.left.issues.map((i) => i.path) : [],
          ["heartbeatIntervl"]
        )
        assert.deepStrictEqual(yield* jobs.history(job.job_id), before, "nothing written")
        yield* jobs.run(job.job_id, () => Effect.void, { heartbeatInterval: "20 millis" })
        assert.strictEqual((yield* jobs.get(job.job_id)).state, "completed")
      }).pipe(Effect.scoped), 60_000)
  })
}
