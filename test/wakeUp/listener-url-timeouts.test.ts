/**
 * The PostgreSQL wake-up listener reads its URL's `statement_timeout` and
 * `connect_timeout` as the store's pool does (store/pg/clientTimeouts.ts; R17).
 * Its client was built from the raw URL (a gap in the last stop's note): `pg`
 * sent `statement_timeout=3000000000` to the server, which refused every
 * connection ("invalid value for parameter"), so the listener never
 * listened and a parked worker waited for its next poll; and `pg` ignored a
 * URL's `connect_timeout`, so a listener whose server accepted and never
 * answered waited for ever, never connecting again. A value that is no whole
 * number is refused at start-up, naming the parameter, as the store refuses it.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { DecodeFailure } from "../../src/domain/Errors.js"
import * as WakeUp from "../../src/WakeUp.js"
import { engineOn } from "../engine/engine.js"
import { summarize } from "../jobs/jobs.suite.js"
import { postgresShared, realSleep, type SharedDatabase } from "../jobs/shared-database.js"
import { capturingLog } from "../support/capturedLog.js"
import { startCuttingProxy } from "../support/cuttingProxy.js"

/** `url` with `query` added to its query. */
const withQuery = (url: string, query: string): string => `${url}${url.includes("?") ? "&" : "?"}${query}`

/** The listener's warning that it lost (or never made) its connection. */
const LISTENER_LOST = /^wake-up listener: /

/** Waits, in real time, until `lines` holds a line `pattern` matches, and returns it. */
const untilLogged = (lines: ReadonlyArray<string>, pattern: RegExp): Effect.Effect<string> =>
  Effect.suspend(() => {
    const line = lines.find((text) => pattern.test(text))
    return line !== undefined ? Effect.succeed(line) : Effect.zipRight(realSleep(10), untilLogged(lines, pattern))
  })

/**
 * A worker pool (one worker, polling once an hour: only a wake-up starts it) of an engine listening on
 * `listenUrl`, and whether a job another pool submits is run: it waits for the job, with no time bound.
 */
const parkedWorkerWoken = (database: SharedDatabase, listenUrl: string) =>
  Effect.gen(function*() {
    const worker = yield* engineOn(database, { listenUrl })
    const ran = yield* Deferred.make<string>()
    yield* worker.jobs.worker({
      concurrency: 1,
      pollInterval: "1 hour",
      handlers: { doc_summarize: (ctx) => Effect.as(Deferred.succeed(ran, ctx.job.job_id), { done: true }) }
    })
    // The pool's first look finds nothing: it parks until woken.
    yield* realSleep(300)
    const submitter = yield* engineOn(database, { wake: "poll" })
    const job = yield* submitter.jobs.submit(summarize())
    assert.strictEqual(yield* Deferred.await(ran), job.job_id, "the parked worker was woken and ran the job another pool submitted")
  })

describe("R17 the PostgreSQL wake-up listener reads its URL's timeouts as the store does", () => {
  it.live("R17 a listen URL's statement_timeout and connect_timeout past 2^31 − 1 ms are clamped: it listens, and a parked worker is woken by another pool's submit", () =>
    Effect.gen(function*() {
      const database = yield* postgresShared.fresh("listener huge timeouts")
      const log = capturingLog(["WARN"])
      const listenUrl = withQuery(database.url, "statement_timeout=3000000000&connect_timeout=3000000")
      // Listening, or the listener's word that it could not connect (the server refused the raw value): whichever comes first.
      const first = yield* Effect.raceFirst(
        Effect.as(log.provide(engineOn(database, { listenUrl })), "listening"),
        log.provide(untilLogged(log.lines, LISTENER_LOST))
      )
      assert.strictEqual(first, "listening")
      yield* log.provide(parkedWorkerWoken(database, listenUrl))
      assert.deepStrictEqual(log.lines.filter((line) => LISTENER_LOST.test(line)), [], "the listener never lost its connection")
    }).pipe(Effect.scoped), 60_000)

  it.live("R17 a listen URL's connect_timeout ends a connect the server never answers: the listener connects again, listens, and a parked worker is woken", () =>
    Effect.gen(function*() {
      const database = yield* postgresShared.fresh("listener connect timeout")
      // A server that accepts and never answers (until told otherwise): the listener's first connect hangs.
      const proxy = yield* Effect.acquireRelease(Effect.promise(() => startCuttingProxy(database.url, "never matched")), (p) => Effect.promise(p.close))
      proxy.state.blackHole = true
      const log = capturingLog(["WARN"])
      const listenUrl = withQuery(proxy.url, "connect_timeout=1")
      const worker = yield* Effect.fork(log.provide(parkedWorkerWoken(database, listenUrl)))
      // The connect given up after the URL's second (it waited for ever): the server answers from now on.
      const lost = yield* untilLogged(log.lines, LISTENER_LOST)
      assert.match(lost, /timeout/i)
      proxy.state.blackHole = false
      yield* Fiber.join(worker)
    }).pipe(Effect.scoped), 60_000)

  it.effect("R17 a listen URL's timeout that is no whole number stops the layer with a DecodeFailure naming listenUrl and the parameter, before it connects", () =>
    Effect.gen(function*() {
      for (const [query, parameter] of [["statement_timeout=3s", "statement_timeout"], ["connect_timeout=1.5", "connect_timeout"]] as const) {
        const exit = yield* Effect.exit(Effect.scoped(Layer.build(WakeUp.layerPg({ listenUrl: `postgres://127.0.0.1:1/none?${query}` }))))
        const defect = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.dieOption(exit.cause)) : undefined
        assert.instanceOf(defect, DecodeFailure, `${query}: ${String(exit)}`)
        const [issue] = (defect as DecodeFailure).issues
        assert.strictEqual(issue?.path, "listenUrl")
        assert.include(issue?.message, `${parameter} in the database URL must be a whole number`)
      }
    }))
})
