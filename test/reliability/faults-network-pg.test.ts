/**
 * Network faults between the library and PostgreSQL (issue 11.9), through a
 * TCP proxy on loopback (tcpProxy.ts): a server that accepts connections and
 * never answers, a network that stalls, one that drops bytes mid-transaction.
 * Each fault lasts a bounded time. What must hold: a typed `StorageError`
 * within the configured timeout (never a hang), an interrupt answered at once,
 * a transaction wholly applied or not at all, and the same store serving
 * calls again once the network heals.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { services } from "../jobs/services.js"
import { summarize } from "../jobs/jobs.suite.js"
import { connectPg, freshPgDatabase } from "../support/pg-database.js"
import { report } from "./report.js"
import { startMuteServer, startTcpProxy } from "./tcpProxy.js"

/** What these tests give PgStore: short enough to keep the file quick, long enough for a loaded machine. */
const STATEMENT_TIMEOUT = Duration.seconds(2)
/** The most a typed error may take to arrive: the timeout, the client's grace, and room for a loaded machine. */
const ANSWER_WITHIN = Duration.seconds(15)

const freshDatabase = freshPgDatabase("reliability network faults")

const proxyTo = (url: string) =>
  Effect.acquireRelease(
    Effect.promise(() => {
      const parsed = new URL(url)
      return startTcpProxy({ host: parsed.hostname, port: Number(parsed.port) })
    }),
    (proxy) => Effect.promise(() => proxy.close())
  )

/** Runs `effect`, bounded by ANSWER_WITHIN; returns how it ended and how long it took. */
const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const started = Date.now()
    const exit = yield* Effect.exit(Effect.timeout(effect, ANSWER_WITHIN))
    return { exit, ms: Date.now() - started }
  })

const tagOf = <A, E>(exit: Exit.Exit<A, E>): string => {
  if (Exit.isSuccess(exit)) return "success"
  const failure = Cause.failureOption(exit.cause)
  return Option.match(failure, {
    onNone: () => `not a typed failure: ${Cause.pretty(exit.cause).split("\n")[0]}`,
    onSome: (error) => String((error as { readonly _tag?: unknown })._tag)
  })
}

describe("reliability: PostgreSQL behind a faulty network", () => {
  it.live("R17 PgStore.layer against a server that accepts connections and never answers fails with StorageError within its connect timeout", () =>
    Effect.gen(function*() {
      const mute = yield* Effect.acquireRelease(Effect.promise(startMuteServer), (server) => Effect.promise(server.close))
      const url = `postgres://nobody@127.0.0.1:${mute.port}/nothing`
      const { exit, ms } = yield* timed(Effect.scoped(Layer.build(PgStore.layer({ url, connectTimeout: "1 second" }))))
      assert.strictEqual(tagOf(exit), "StorageError", `after ${ms} ms`)
      report("network-mute-server", { connectTimeoutMs: 1000, failedAfterMs: ms })
    }).pipe(Effect.scoped), 60_000)

  it.live("R17 interrupting PgStore.layer while it waits on a mute server returns at once, not after the connect timeout", () =>
    Effect.gen(function*() {
      const mute = yield* Effect.acquireRelease(Effect.promise(startMuteServer), (server) => Effect.promise(server.close))
      const url = `postgres://nobody@127.0.0.1:${mute.port}/nothing`
      const started = Date.now()
      const exit = yield* Effect.exit(Effect.scoped(Layer.build(PgStore.layer({ url, connectTimeout: "60 seconds" }))).pipe(
        Effect.timeoutFail({ duration: "300 millis", onTimeout: () => "gave up" as const })
      ))
      const ms = Date.now() - started
      assert.isTrue(Exit.isFailure(exit) && Option.getOrNull(Cause.failureOption(exit.cause)) === "gave up")
      // The pool is ended on the way out, bounded by 1 s; 60 s would mean the interrupt waited for the connect.
      assert.isBelow(ms, Duration.toMillis(ANSWER_WITHIN), "the interrupt was answered")
      report("network-interrupt-connect", { connectTimeoutMs: 60_000, interruptedAfterMs: 300, returnedAfterMs: ms })
    }).pipe(Effect.scoped), 60_000)

  it.live("R17 jobs.get through a network that stalls fails with StorageError within the statement timeout, and answers again once it heals", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase
      const proxy = yield* proxyTo(url)
      const context = yield* Layer.build(services(PgStore.layer({ url: proxy.via(url), statementTimeout: STATEMENT_TIMEOUT })))
      const jobs = Context.get(context, Jobs)
      const job = yield* jobs.submit(summarize())
      const outcomes: Array<string> = []
      const timings: Array<number> = []
      for (let round = 0; round < 3; round++) {
        proxy.setMode("stall")
        const { exit, ms } = yield* timed(jobs.get(job.job_id))
        outcomes.push(tagOf(exit))
        timings.push(ms)
        proxy.setMode("forward")
        const again = yield* timed(jobs.get(job.job_id))
        outcomes.push(tagOf(again.exit))
      }
      assert.deepStrictEqual(outcomes, ["StorageError", "success", "StorageError", "success", "StorageError", "success"])
      report("network-stall", { statementTimeoutMs: Duration.toMillis(STATEMENT_TIMEOUT), rounds: 3, failedAfterMs: timings })
    }).pipe(Effect.scoped), 120_000)

  // Both ways Jobs.complete writes on PostgreSQL: the one-statement move out of `running`
  // (finishRunningJob), and the general path's transaction (lock, transition, finish the run).
  for (const path of ["one statement", "a transaction"] as const) {
  it.live(`R17 a transition cut by a network that drops bytes (${path}) ends in StorageError, leaves the job wholly unmoved, and the store serves the next call`, () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase
      const proxy = yield* proxyTo(url)
      const real = Context.get(
        yield* Layer.build(PgStore.layer({ url: proxy.via(url), statementTimeout: STATEMENT_TIMEOUT })),
        JobStore
      )
      // The network fails just before the move: its one statement, or — without finishRunningJob —
      // between the job's lock and its guarded UPDATE, inside Jobs.complete's transaction.
      let cut = false
      const dropFirst = <A, E>(write: Effect.Effect<A, E>) => Effect.zipRight(Effect.sync(() => cut && proxy.setMode("drop")), write)
      const { finishRunningJob, ...general } = real
      const store: JobStore["Type"] = path === "one statement"
        ? { ...real, finishRunningJob: (end) => dropFirst(finishRunningJob!(end)) }
        : { ...general, transition: (request) => dropFirst(real.transition(request)) }
      const context = yield* Layer.build(services(Layer.succeed(JobStore, store)))
      const jobs = Context.get(context, Jobs)
      const job = yield* jobs.submit(summarize())
      yield* jobs.start(job.job_id)
      cut = true
      const { exit, ms } = yield* timed(jobs.complete(job.job_id))
      cut = false
      assert.strictEqual(tagOf(exit), "StorageError", `after ${ms} ms`)
      // The network heals; the half-read streams are reset, as a real network would after so long.
      proxy.setMode("forward")
      proxy.resetConnections()

      // Read behind the store's back, not through the proxy: not completed, no completion event.
      const client = yield* Effect.promise(() => connectPg(url))
      const [state, events] = yield* Effect.promise(async () => {
        try {
          const jobRow = await client.query<{ status: string }>("SELECT status FROM ai_jobs WHERE id = $1", [job.job_id])
          const eventRows = await client.query<{ n: string }>(
            "SELECT count(*) AS n FROM flight_recorder_events WHERE job_id = $1 AND body->>'to_state' = 'completed'",
            [job.job_id]
          )
          return [jobRow.rows[0]?.status, Number(eventRows.rows[0]?.n)] as const
        } finally {
          await client.end()
        }
      })
      assert.deepStrictEqual([state, events], ["running", 0], "the transaction left nothing behind")

      // The same store, through the healed network, completes the job.
      let completed: Exit.Exit<unknown, unknown> = Exit.void
      let attempts = 0
      do {
        attempts++
        completed = (yield* timed(jobs.complete(job.job_id))).exit
      } while (Exit.isFailure(completed) && tagOf(completed) === "StorageError" && attempts < 3)
      assert.strictEqual(tagOf(completed), "success", `after ${attempts} attempts`)
      assert.strictEqual((yield* jobs.get(job.job_id)).state, "completed")
      report(`network-drop-${path === "one statement" ? "one-statement" : "mid-transaction"}`, { statementTimeoutMs: Duration.toMillis(STATEMENT_TIMEOUT), failedAfterMs: ms, attemptsAfterHeal: attempts })
    }).pipe(Effect.scoped), 120_000)
  }
})
