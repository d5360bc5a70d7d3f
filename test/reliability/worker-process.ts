/**
 * A worker process for the reliability campaign, killed and restarted by the
 * tests (crash.*.test.ts, concurrency.test.ts):
 *
 *   node --import tsx test/reliability/worker-process.ts
 *
 * Configured by environment:
 *   HSK_MODE        crash | concurrent
 *   HSK_DATABASE    a SQLite file path or a postgres:// URL (Storage.layerFromUrl)
 *   HSK_SEED        seeds this process's choices
 *   HSK_RECOVER_AT  crash mode: epoch ms before which startup recovery must not scan
 *                   (the killed process's last heartbeat must be older than the threshold)
 *   HSK_DURATION_MS concurrent mode: how long to work before a clean exit
 *
 * It opens the store, runs startup recovery (`Recovery.recoverStalledRuns`,
 * threshold 1 s), and then — in crash mode after the parent's `go` on stdin —
 * submits jobs and runs them through `Jobs.worker` and `Jobs.run` with 100 ms
 * heartbeats and node history, while an operator fiber resumes, retries,
 * reworks, completes and cancels jobs. Every message to the parent is a
 * `@@{json}` line (protocol.ts).
 */
import * as fs from "node:fs"
import * as readline from "node:readline"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { JobId } from "../../src/domain/Ids.js"
import type { JobKind } from "../../src/domain/JobKind.js"
import type { JobState } from "../../src/domain/JobState.js"
import type { Json } from "../../src/domain/Json.js"
import { Jobs, type RunContext } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import * as Storage from "../../src/store/DatabaseUrl.js"
import { services } from "../jobs/services.js"
import { MARK, type WorkerMessage } from "./protocol.js"
import { random } from "./random.js"

const env = (name: string, fallback?: string): string => {
  const value = process.env[name] ?? fallback
  if (value === undefined) throw new Error(`worker-process: ${name} is not set`)
  return value
}

const mode = env("HSK_MODE")
const database = env("HSK_DATABASE")
const rng = random(Number(env("HSK_SEED", "1")))
const recoverAt = Number(env("HSK_RECOVER_AT", "0"))
const durationMs = Number(env("HSK_DURATION_MS", "5000"))

/** The recovery threshold of the campaign: the smallest the event schema allows (a positive integer). */
const THRESHOLD_SECS = 1
const HEARTBEAT = Duration.millis(100)

const emit = (message: WorkerMessage): void => {
  // Synchronous: a line written before a SIGKILL is in the pipe when the process dies.
  fs.writeSync(1, `${MARK}${JSON.stringify(message)}\n`)
}

/** Lines from the parent, one waiter per expected line. */
const lines = readline.createInterface({ input: process.stdin })
const waiters: Array<(line: string) => void> = []
lines.on("line", (line) => waiters.shift()?.(line.trim()))
// The parent is gone: nobody will kill us, so leave.
lines.on("close", () => process.exit(0))
const nextLine = Effect.async<string>((resume) => {
  waiters.push((line) => resume(Effect.succeed(line)))
})

/** Real sleeps: the campaign is about real processes and real time. */
const sleepMs = (ms: number) => Effect.sleep(Duration.millis(ms))

/** The tag and driver code of a failure, for the parent's report. */
const describe = (where: string, cause: Cause.Cause<unknown>): WorkerMessage => {
  const failure = Cause.squash(cause) as { readonly _tag?: unknown; readonly cause?: { readonly cause?: { readonly code?: unknown } } }
  const code = failure?.cause?.cause?.code
  return {
    t: "error",
    where,
    tag: Cause.isDie(cause) ? "Defect" : typeof failure?._tag === "string" ? failure._tag : "Unknown",
    code: typeof code === "string" ? code : null,
    detail: Cause.pretty(cause).slice(0, 2000)
  }
}

/** Expected outcomes of racing with other workers, recovery and operators: not errors. */
const EXPECTED = new Set(["IllegalTransition", "NotFound", "RunLost", "RunNotActive", "JobNotRunning", "HandlerFailed"])

/** Runs `effect`, reporting unexpected failures (defects, storage errors) to the parent; never fails. */
const guarded = <A, E, R>(where: string, effect: Effect.Effect<A, E, R>): Effect.Effect<void, never, R> =>
  Effect.catchAllCause(Effect.asVoid(effect), (cause) => {
    if (Cause.isInterruptedOnly(cause)) return Effect.void
    const failure = Cause.failureOption(cause)
    const tag = failure._tag === "Some" ? (failure.value as { readonly _tag?: unknown })._tag : undefined
    if (!Cause.isDie(cause) && typeof tag === "string" && EXPECTED.has(tag)) return Effect.void
    return Effect.sync(() => emit(describe(where, cause)))
  })

/** A handler's own failure: the job ends failed, as designed. */
class HandlerFailed extends Error {
  readonly _tag = "HandlerFailed"
}

const WORKER_KINDS: ReadonlyArray<JobKind> = ["doc_summarize", "doc_edit"]
const MANUAL_KINDS: ReadonlyArray<JobKind> = ["doc_rewrite"]

const program = Effect.gen(function*() {
  const jobs = yield* Jobs

  /** A job's work: a few persisted nodes, sometimes metrics, sometimes a failure. */
  const handler = (context: RunContext) =>
    Effect.gen(function*() {
      const nodes = rng.int(1, 3)
      for (let i = 0; i < nodes; i++) {
        const work = Effect.gen(function*() {
          yield* sleepMs(rng.int(5, 120))
          if (rng.chance(0.05)) return yield* Effect.fail(new HandlerFailed(`node ${i} failed`))
          return { step: i }
        })
        yield* context.node({ node_id: `step-${i}`, node_type: rng.pick(["llm", "tool", "validate"]), input: { step: i } }, work)
      }
      if (rng.chance(0.3)) yield* jobs.addMetrics(context.job.job_id, { total_tokens: rng.int(0, 500), entities_read: 1 })
      if (rng.chance(0.08)) return yield* Effect.fail(new HandlerFailed("handler gave up"))
      return { nodes } satisfies Json
    })

  const handle = (context: RunContext) =>
    Effect.zipRight(Effect.sync(() => emit({ t: "handling", job: context.job.job_id, run: context.run.id })), handler(context))

  const submitOne = Effect.gen(function*() {
    const id = crypto.randomUUID()
    emit({ t: "intent", job: id })
    yield* jobs.submit({
      job_id: id,
      job_kind: rng.pick([...WORKER_KINDS, ...MANUAL_KINDS]),
      protocol_id: "hsk.reliability.v1",
      profile_id: `worker-${process.pid}`,
      // No capability profile: the policy places each kind (doc_edit and doc_rewrite under Coder).
      access_mode: "analysis_only",
      safety_mode: rng.pick(["strict", "normal", "experimental"] as const),
      job_inputs: { seed: rng.int(0, 1_000_000) }
    })
    emit({ t: "submitted", job: id })
  })

  const someJob = (state: JobState) =>
    Effect.map(jobs.list({ states: [state], limit: 20 }), (page) => page.items.length === 0 ? null : rng.pick(page.items).job_id)

  /** Runs a job that was just moved to running (resume, rework) as this process's work. */
  const runNow = (jobId: JobId) => Effect.forkScoped(guarded("run", jobs.run(jobId, handle, { heartbeatInterval: HEARTBEAT })))

  /** Operator actions, racing with the workers (and, in concurrent mode, with other processes). */
  const operatorStep = Effect.gen(function*() {
    const action = rng.int(0, 9)
    if (action <= 2) {
      const id = yield* someJob("stalled")
      if (id !== null) {
        yield* jobs.resume(id, { actor: "human", reason: "resumed by the reliability operator" })
        yield* runNow(id)
      }
    } else if (action <= 4) {
      const id = yield* someJob("failed")
      if (id !== null) yield* (rng.chance(0.85) ? jobs.retry(id, { actor: "human" }) : jobs.poison(id, { actor: "human" }))
    } else if (action <= 6) {
      const id = yield* someJob("awaiting_validation")
      if (id !== null) {
        const pick = rng.int(0, 2)
        // A human's action, as the operator's others: the pick may be stale, and if the job has
        // been reworked meanwhile this takes a running job from its worker (invariants.ts).
        const asOperator = { actor: "human" } as const
        yield* (pick === 0 ? jobs.complete(id, asOperator) : pick === 1 ? jobs.completeWithIssues(id, asOperator) : jobs.awaitUser(id, asOperator))
      }
    } else if (action === 7) {
      const id = yield* someJob("awaiting_user")
      if (id !== null) {
        yield* jobs.rework(id, { actor: "human", reason: "user answered" })
        yield* runNow(id)
      }
    } else {
      // Cancel anything not finished: a running job's owner must notice and stop (RunLost).
      const id = yield* someJob(rng.pick(["queued", "running", "stalled"] as const))
      if (id !== null && rng.chance(0.5)) yield* jobs.cancel(id, { actor: "human", reason: "cancelled by the reliability operator" })
    }
  })

  /** Claims doc_rewrite jobs and runs them through `Jobs.run`, ending in awaiting_validation. */
  const manualRunner = Effect.gen(function*() {
    const claim = yield* jobs.claimNext({ kinds: MANUAL_KINDS })
    if (claim === null) return yield* sleepMs(30)
    yield* jobs.run(claim.job.job_id, handle, { heartbeatInterval: HEARTBEAT, onSuccess: "awaiting_validation" })
  })

  const work = Effect.gen(function*() {
    yield* jobs.worker({ concurrency: 2, kinds: WORKER_KINDS, pollInterval: Duration.millis(20), run: { heartbeatInterval: HEARTBEAT }, handler: handle })
    yield* Effect.forkScoped(Effect.forever(guarded("manual", manualRunner)))
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(sleepMs(rng.int(30, 200)), guarded("operator", operatorStep))))
  })

  emit({ t: "ready" })

  if (mode === "crash") {
    const wait = recoverAt - Date.now()
    if (wait > 0) yield* sleepMs(wait)
    const report = yield* Recovery.recoverStalledRuns({ threshold: Duration.seconds(THRESHOLD_SECS) })
    emit({ t: "recovered", runs: report.recovered.map((run) => run.id) })
    const go = yield* nextLine
    if (go !== "go") return
    yield* work
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(guarded("submit", submitOne), sleepMs(rng.int(20, 250)))))
    return yield* Effect.never
  }

  // Concurrent mode: everyone submits, claims, runs, operates and recovers at once.
  yield* work
  yield* Effect.forkScoped(Effect.forever(Effect.zipRight(guarded("submit", submitOne), sleepMs(rng.int(20, 120)))))
  yield* Effect.forkScoped(Effect.forever(Effect.zipRight(
    sleepMs(rng.int(150, 400)),
    guarded("recovery", Effect.tap(Recovery.recoverStalledRuns({ threshold: Duration.seconds(THRESHOLD_SECS) }), (report) =>
      report.recovered.length > 0 ? Effect.sync(() => emit({ t: "scan", runs: report.recovered.map((run) => run.id) })) : Effect.void))
  )))
  yield* sleepMs(durationMs)
})

const main = Effect.scoped(program).pipe(
  Effect.provide(services(Storage.layerFromUrl(database))),
  Effect.matchCause({
    onFailure: (cause) => {
      emit({ t: "fatal", detail: Cause.pretty(cause).slice(0, 4000) })
      return 3
    },
    onSuccess: () => {
      if (mode === "concurrent") emit({ t: "done" })
      return 0
    }
  })
)

Effect.runPromise(main).then((code) => process.exit(code), (error: unknown) => {
  emit({ t: "fatal", detail: String(error) })
  process.exit(3)
})
