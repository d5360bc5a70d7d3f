/**
 * The brief's promise — the behaviour a demanding user expects, the same on
 * SQLite and on PostgreSQL — where what a user observes is an outcome, not an
 * order: the parts `same-behaviour-both-dialects.test.ts` leaves out because
 * their order is scheduling. Each part runs on a fresh SQLite file, a fresh
 * PostgreSQL database, and a fresh PostgreSQL database with `coalesce: false`
 * (every store call sent alone), with the dialect's own wake-up (LISTEN/NOTIFY
 * on PostgreSQL, in process on SQLite); what each ends with is compared job
 * by job, the jobs named by their submit order.
 *
 * 1. A pool of several loops drains a generated queue (fast-check, fixed
 *    seed): programs that succeed, fail (typed), die, report a violation, are
 *    interrupted (the job released) or are cancelled while they run, under
 *    per-job retries. Compared: each job's final state, attempt, metrics,
 *    outputs, runs with their nodes, and its own events in order; checked on
 *    each store: no job runs twice at once, a program starts only with its
 *    job running under its run, and every state change has its event (the
 *    events' states chain from submit to the state read back).
 * 2. `await` (under TestClock): jobs already finished, moved to each settled
 *    state while awaited (by this process: woken at once; by another: on
 *    PostgreSQL by NOTIFY, on SQLite at the next poll, as the README says), a
 *    `until` of its own, a timeout, a job never known.
 * 3. Wake-up (under TestClock): parked pools with a poll that never comes are
 *    woken by a submit in the same process; by one in another process through
 *    NOTIFY on PostgreSQL (SQLite: at the next poll); two processes' pools
 *    woken by one submit run it once; a cancel from another process stops the
 *    running program (PostgreSQL: at once; SQLite: at its next heartbeat);
 *    heartbeats land while a program works.
 * 4. Periodic sweeps (under TestClock): the Janitor's scheduled passes and
 *    startup recovery's `sweepEvery` after the same clock moves: the same
 *    reports, the same jobs gone and kept, the same events written.
 *
 * "At once" is checked without real-time luck: the clock does not move, and
 * the harness waits (real time, bounded) for the outcome — a fiber parked on
 * the TestClock, a program started, a job settled — and fails with what it
 * waited for if the bound passes. `HSK_OUTCOME_SEED` replays another queue
 * set; `HSK_SOAK=1` drains more queues.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as fc from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import * as fs from "node:fs"
import type { JobRequestInput } from "../../src/domain/AiJob.js"
import type { JobId } from "../../src/domain/Ids.js"
import type { JobState } from "../../src/domain/JobState.js"
import type * as FlightRecorder from "../../src/FlightRecorder.js"
import * as Janitor from "../../src/Janitor.js"
import * as Jobs from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import * as WakeUp from "../../src/WakeUp.js"
import { services } from "../jobs/services.js"
import { freshPgDatabase } from "../support/pg-database.js"
import { tempSqliteFile } from "../support/stores.js"
import { soak } from "./config.js"
import { report } from "./report.js"

// ---------------------------------------------------------------------------------------------
// The stores, and one process of the application on a store.

interface Database {
  readonly url: string
  readonly pg: boolean
  /** A store with connections of its own on the database, as another process's would be. */
  readonly store: () => Layer.Layer<JobStore, unknown>
}

interface Dialect {
  readonly name: string
  readonly fresh: (label: string) => Effect.Effect<Database, unknown, Scope.Scope>
}

const pgDialect = (name: string, options: Omit<PgStore.PgStoreOptions, "url">): Dialect => ({
  name,
  fresh: (label) => Effect.map(freshPgDatabase(label), (url) => ({ url, pg: true, store: () => PgStore.layer({ url, ...options }) }))
})

const SQLITE: Dialect = {
  name: "SQLite",
  fresh: (label) =>
    Effect.sync(() => {
      const filename = tempSqliteFile(label)
      return { url: filename, pg: false, store: () => SqliteStore.layer({ filename }) }
    })
}

/** SQLite first: it is what the others are compared with. */
const DIALECTS: ReadonlyArray<Dialect> = [SQLITE, pgDialect("PostgreSQL", {}), pgDialect("PostgreSQL with coalesce: false", { coalesce: false })]
/**
 * Where calls rarely meet (one caller at a time, a clock moved by hand): `coalesce` has little to
 * share, so these parts run on PostgreSQL's defaults only, with `HSK_SOAK=1` on all three.
 */
const CLOCKED: ReadonlyArray<Dialect> = soak ? DIALECTS : DIALECTS.slice(0, 2)

interface App {
  readonly context: Context.Context<Jobs.Jobs | FlightRecorder.FlightRecorder | JobStore | Recovery.RecoveryGate | WakeUp.WakeUp>
  readonly jobs: Jobs.Jobs["Type"]
  readonly store: JobStore["Type"]
}

/**
 * One process of the application on `db`: its own store, the dialect's wake-up (LISTEN on
 * PostgreSQL, in process on SQLite) or polling only, retries as each job asks (none by default).
 */
const openApp = (
  db: Database,
  options: { readonly wake?: "dialect" | "poll"; readonly gate?: Layer.Layer<Recovery.RecoveryGate, never, JobStore> } = {}
): Effect.Effect<App, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const wake = options.wake === "poll"
      ? WakeUp.layerPollOnly
      : db.pg
      ? WakeUp.layerPg({ listenUrl: db.url, reconnectDelay: "100 millis" })
      : WakeUp.layerInProcess
    const context = yield* Layer.build(services(db.store(), options.gate ?? Recovery.layerNoStartupRecovery, wake))
    yield* Context.get(context, WakeUp.WakeUp).ready
    return { context, jobs: Context.get(context, Jobs.Jobs), store: Context.get(context, JobStore) }
  })

// ---------------------------------------------------------------------------------------------
// Waiting for outcomes, in real time and bounded: never sleep-and-hope.

/** How long the harness waits (real time) for something it knows must happen; a loaded machine takes seconds. */
const BOUND_MS = 30_000

const realSleep = (ms: number) =>
  Effect.async<void>((resume) => {
    const timer = setTimeout(() => resume(Effect.void), ms)
    return Effect.sync(() => clearTimeout(timer))
  })

/** `effect`, or a defect naming what did not happen within the bound (real time: the TestClock does not move). */
const within = <A, E, R>(what: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.raceFirst(effect, Effect.zipRight(realSleep(BOUND_MS), Effect.dieMessage(`the harness waited ${BOUND_MS / 1000} s for: ${what}`)))

/** Waits until at least `count` sleeps ending at `deadline` are pending on the TestClock: so many fibers parked there. */
const parkedAt = (what: string, deadline: number, count = 1) =>
  within(
    what,
    Effect.gen(function*() {
      while (Chunk.reduce(yield* TestClock.sleeps(), 0, (n, at) => (at === deadline ? n + 1 : n)) < count) yield* realSleep(2)
    })
  )

const now = Clock.currentTimeMillis

// ---------------------------------------------------------------------------------------------
// Naming ids and times, so two stores' answers compare.

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi
const ISO_TIME = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)/g

/** Ids named by their order of first appearance (`id#n`), from names given first (the jobs, in submit order). */
class Names {
  private readonly names = new Map<string, string>()
  constructor(given: ReadonlyArray<readonly [id: string, name: string]> = []) {
    for (const [id, name] of given) this.names.set(id.toLowerCase(), name)
  }
  name(id: string): string {
    const key = id.toLowerCase()
    let name = this.names.get(key)
    if (name === undefined) {
      name = `id#${this.names.size}`
      this.names.set(key, name)
    }
    return name
  }
}

/**
 * A value as a user compares it: ids named, and times kept (under TestClock they are the
 * same on both stores) or, in real time, replaced by `@time`.
 */
const normalise = (value: unknown, names: Names, times: "keep" | "drop"): unknown => {
  if (typeof value === "string") {
    const named = value.replace(UUID, (id) => names.name(id))
    return times === "drop" ? named.replace(ISO_TIME, "@time") : named
  }
  if (value === null || typeof value !== "object") return value
  if (DateTime.isDateTime(value)) return times === "drop" ? "@time" : `@${DateTime.formatIso(DateTime.toUtc(value))}`
  if (Duration.isDuration(value)) return `${Duration.toMillis(value)} ms`
  if (Array.isArray(value)) return value.map((item) => normalise(item, names, times))
  if (Option.isOption(value)) return Option.isSome(value) ? { some: normalise(value.value, names, times) } : { none: true }
  const out: Record<string, unknown> = {}
  if ("_tag" in value) out["_tag"] = (value as { readonly _tag: unknown })._tag
  for (const [k, v] of Object.entries(value)) {
    // A run's measured time is the clock's: in real time, only that it is a count of milliseconds.
    out[k] = times === "drop" && k === "duration_ms" && Number.isSafeInteger(v) && (v as number) >= 0 ? "@ms" : normalise(v, names, times)
  }
  return out
}

/** An answer: its value, or its error (tag and fields), or that it died. */
const answer = (exit: Exit.Exit<unknown, unknown>, names: Names, times: "keep" | "drop" = "keep"): unknown => {
  if (Exit.isSuccess(exit)) return { ok: normalise(exit.value, names, times) }
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) return { error: normalise(failure.value, names, times) }
  return Cause.isInterruptedOnly(exit.cause) ? { interrupted: true } : { died: Cause.pretty(exit.cause).split("\n")[0] }
}

/**
 * A job's whole story as `Jobs.history` tells it, its ids named in the order the story
 * shows them after the jobs' own names: the job, its runs with their nodes, its events.
 */
const story = (app: App, jobId: JobId, jobNames: ReadonlyArray<readonly [string, string]>, times: "keep" | "drop") =>
  Effect.map(app.jobs.history(jobId), (history) => {
    const names = new Names(jobNames)
    return {
      job: normalise(history.job, names, times),
      runs: normalise(history.runs, names, times),
      events: normalise(history.events, names, times)
    }
  })

/** A program's own typed error. */
class ProgramFailed extends Schema.TaggedError<ProgramFailed>()("ProgramFailed", { call: Schema.Number }) {}

const request = (fields: Partial<JobRequestInput> = {}): JobRequestInput => ({
  job_kind: "doc_summarize",
  protocol_id: "hsk.outcome.v1",
  profile_id: "tester",
  access_mode: "analysis_only",
  safety_mode: "normal",
  ...fields
} as JobRequestInput)

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0)

/** A part's observations on each dialect, compared with SQLite's; the report gets SQLite's. */
const compareAll = (label: string, observed: ReadonlyArray<readonly [dialect: string, value: unknown]>) => {
  const dump = process.env["HSK_OUTCOME_DUMP"]
  if (dump !== undefined && dump !== "") fs.writeFileSync(`${dump}-${label.replace(/[^a-z0-9]+/gi, "-").slice(0, 60)}.json`, JSON.stringify(observed, null, 1))
  const [first, ...rest] = observed
  for (const [name, value] of rest) {
    assert.deepStrictEqual(value, first![1], `${label}: ${name} (actual) differs from ${first![0]} (expected) (HSK_OUTCOME_DUMP=<path prefix> writes both)`)
  }
}

// ---------------------------------------------------------------------------------------------
// 1. A pool of several loops drains a generated queue.

/** What one call of a job's program does; past its script, a program succeeds. */
type Call = "ok" | "fail" | "die" | "violation" | "interrupt" | "cancel"

interface QueuedJob {
  readonly kind: "doc_summarize" | "doc_edit" | "workflow_run"
  readonly priority: number
  readonly maxAttempts: number
  readonly script: ReadonlyArray<Call>
  readonly metrics?: Record<string, number>
}

/** Kinds the pool has handlers for; `workflow_run` has none, so such a job is never claimed. */
const HANDLED = ["doc_summarize", "doc_edit"] as const

const queuedJob: fc.Arbitrary<QueuedJob> = fc.record({
  kind: fc.constantFrom<QueuedJob["kind"]>("doc_summarize", "doc_summarize", "doc_edit", "doc_edit", "workflow_run"),
  priority: fc.integer({ min: -1, max: 2 }),
  maxAttempts: fc.integer({ min: 1, max: 3 }),
  script: fc.array(
    fc.oneof(
      { weight: 3, arbitrary: fc.constant<Call>("ok") },
      { weight: 2, arbitrary: fc.constant<Call>("fail") },
      { weight: 2, arbitrary: fc.constantFrom<Call>("die", "violation", "interrupt", "cancel") }
    ),
    { minLength: 1, maxLength: 3 }
  ),
  metrics: fc.option(fc.constantFrom({ input_tokens: 7 }, { output_tokens: 2, tool_calls: 1 }), { nil: undefined })
}).map((j) => (j.metrics === undefined ? { kind: j.kind, priority: j.priority, maxAttempts: j.maxAttempts, script: j.script } : j) as QueuedJob)

const fromEnv = (name: string): number | undefined => {
  const text = process.env[name]
  return text === undefined || text.trim() === "" ? undefined : Number(text)
}
const SEED = fromEnv("HSK_OUTCOME_SEED") ?? 20_261_202
const QUEUES = soak ? 24 : 3
const LOOPS = 3

/** The states a drained job can rest in: anything but queued and running. */
const RESTING: ReadonlyArray<JobState> = ["stalled", "awaiting_validation", "awaiting_user", "completed", "completed_with_issues", "failed", "cancelled", "poisoned"]

interface Drained {
  readonly jobs: ReadonlyArray<unknown>
  readonly violations: ReadonlyArray<string>
  /** The programs' calls, by what each did. */
  readonly calls: Readonly<Record<string, number>>
}

/** The queue submitted, a pool of `LOOPS` loops run until every handled job rests; each job's story read back. */
const drainQueue = (app: App, queue: ReadonlyArray<QueuedJob>): Effect.Effect<Drained, unknown> =>
  Effect.scoped(Effect.gen(function*() {
    const ids: Array<JobId> = []
    for (const [i, j] of queue.entries()) {
      const job = yield* app.jobs.submit(request({
        job_kind: j.kind,
        priority: j.priority,
        max_attempts: j.maxAttempts,
        backoff: { initial: 0, jitter: 0 },
        job_inputs: { n: i, script: [...j.script] }
      } as Partial<JobRequestInput>))
      ids.push(job.job_id)
    }
    const jobNames = ids.map((id, i) => [id, `job#${i}`] as const)
    const nameOf = (id: string) => jobNames.find(([known]) => known === id)?.[1] ?? id
    const violations: Array<string> = []
    const running = new Set<string>()
    const callsOf = new Map<string, number>()
    const calls: Record<string, number> = {}
    // A program to be cancelled while it runs says so here; the test cancels it from outside.
    const toCancel = yield* Queue.unbounded<JobId>()
    const handler = (ctx: Jobs.RunContext) => {
      const id = ctx.job.job_id
      return Effect.gen(function*() {
        if (running.has(id)) violations.push(`${nameOf(id)} ran twice at once`)
        running.add(id)
        const call = callsOf.get(id) ?? 0
        callsOf.set(id, call + 1)
        // The program starts with its job running under its run, the run running.
        const seen = yield* app.jobs.history(id)
        const active = seen.runs.at(-1)?.run
        if (seen.job.state !== "running" || active?.id !== ctx.run.id || active.status !== "running") {
          violations.push(`${nameOf(id)} call ${call}: job ${seen.job.state}, its latest run ${active?.status} (${active?.id === ctx.run.id ? "this run" : "another run"})`)
        }
        const j = queue[ids.indexOf(id)]!
        const what = j.script[call] ?? "ok"
        calls[what] = (calls[what] ?? 0) + 1
        yield* ctx.node({ node_id: `call-${call}`, node_type: "tool", input: { what } }, Effect.succeed({ did: what }))
        if (j.metrics !== undefined) yield* app.jobs.addMetrics(id, j.metrics)
        switch (what) {
          case "ok":
            return { done: call }
          case "fail":
            return yield* new ProgramFailed({ call })
          case "die":
            return yield* Effect.die(new Error(`call ${call} crashed`))
          case "violation":
            return yield* ctx.securityViolation({ violation: "prompt_injection", detail: `found at call ${call}` })
          case "interrupt":
            return yield* Effect.interrupt
          case "cancel":
            yield* Queue.offer(toCancel, id)
            return yield* Effect.never
        }
      }).pipe(Effect.ensuring(Effect.sync(() => running.delete(id))))
    }
    yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(toCancel), (id) =>
      Effect.exit(app.jobs.cancel(id, { actor: "human", reason: "cancelled while it ran" })))))
    yield* Effect.scoped(Effect.gen(function*() {
      yield* app.jobs.worker({
        concurrency: LOOPS,
        pollInterval: "50 millis",
        drainTimeout: "1 second",
        handlers: Object.fromEntries(HANDLED.map((kind) => [kind, handler])) as Jobs.Handlers<never, never>
      })
      yield* within(
        "every handled job rests",
        Effect.forEach(ids.filter((_, i) => queue[i]!.kind !== "workflow_run"), (id) => app.jobs.await(id, { until: RESTING }), { concurrency: 4, discard: true })
      )
    }))
    const jobs = yield* Effect.forEach(ids, (id) => story(app, id, jobNames, "drop"))
    // Every state change has its event: the lifecycle events' states chain from submit to the state read back.
    for (const [i, id] of ids.entries()) {
      const history = yield* app.jobs.history(id)
      const changes = history.events.flatMap((event) =>
        typeof event.body["to_state"] === "string" && event.body["to_state"] !== event.body["from_state"]
          ? [{ from: event.body["from_state"] ?? null, to: event.body["to_state"] }]
          : [])
      let state: unknown = null
      for (const change of changes) {
        if (change.from !== state) violations.push(`job#${i}: an event ${String(change.from)} → ${change.to} after ${String(state)}`)
        state = change.to
      }
      if (state !== history.job.state) violations.push(`job#${i}: the events end at ${String(state)}, the job is ${history.job.state}`)
      const runsStarted = changes.filter((change) => change.to === "running").length
      if (runsStarted !== history.runs.length) violations.push(`job#${i}: ${runsStarted} events to running, ${history.runs.length} runs`)
      if (history.runs.some(({ run }) => run.status === "running")) violations.push(`job#${i}: a run still running`)
    }
    return { jobs, violations, calls }
  }))

// ---------------------------------------------------------------------------------------------
// 2–4. Under TestClock: each dialect's fresh database, its own TestClock moved the same way.

/** `scenario` on each dialect's fresh database under a TestClock set to T0; the outcomes compared with SQLite's. */
/** Await, then wake-up, on one database: one process with the dialect's wake-up, and another that only polls. */
const awaitAndWake = (db: Database) =>
  Effect.gen(function*() {
    const main = yield* openApp(db)
    const other = yield* openApp(db, { wake: "poll" })
    // Wake-up first: its pools would run the jobs await leaves queued.
    const wake = yield* wakeOutcomes(db, main, other)
    return { wake, await: yield* awaitAnswers(db.pg, main, other) }
  })

const onEachDialect = <A>(label: string, scenario: (db: Database) => Effect.Effect<A, unknown, Scope.Scope>) =>
  Effect.gen(function*() {
    // The dialects at once, each under a TestClock of its own.
    const observed = yield* Effect.forEach(CLOCKED, (dialect) =>
      Effect.scoped(Effect.gen(function*() {
        yield* TestClock.setTime(T0)
        return [dialect.name, yield* scenario(yield* dialect.fresh(label))] as const
      })).pipe(Effect.provide(TestContext.TestContext)), { concurrency: "unbounded" })
    compareAll(label, observed)
    return observed[0]![1]
  })

/** Waits (real time, bounded) until the job rests in one of `until`: its outcome, read as a user reads it. */
const settled = (app: App, jobId: JobId, until: ReadonlyArray<JobState> = RESTING) =>
  within(
    `job ${jobId} in ${until.join("/")}`,
    Effect.gen(function*() {
      while (!until.includes((yield* app.jobs.get(jobId)).state)) yield* realSleep(5)
    })
  )

const HOUR = 3_600_000

/**
 * `await` answers: a job already finished; jobs moved to each settled state (and to a `until` of
 * the caller's) while awaited, by this process — woken at once, the clock still — and by another
 * process — on PostgreSQL by its NOTIFY, the clock still; on SQLite at the next poll (the clock
 * moved one poll; PostgreSQL's moved after its answer, so both clocks stay in step); timeouts; an
 * unknown job. Each await polls hourly: only a wake-up answers it sooner.
 */
const awaitAnswers = (pg: boolean, main: App, other: App) =>
  Effect.gen(function*() {
    const names = new Names()
    const submit = Effect.map(main.jobs.submit(request()), (job) => {
      names.name(job.job_id)
      return job.job_id
    })
    const answers: Record<string, unknown> = {}
    const observe = (name: string, exit: Exit.Exit<unknown, unknown>) => (answers[name] = answer(exit, names))

    const done = yield* submit
    yield* main.jobs.start(done)
    yield* main.jobs.complete(done)
    observe("already completed", yield* Effect.exit(main.jobs.await(done)))

    type Mover = (app: App, id: JobId) => Effect.Effect<unknown, unknown>
    const moves: ReadonlyArray<readonly [string, boolean, Mover, ReadonlyArray<JobState>?]> = [
      ["completed", true, (app, id) => app.jobs.complete(id)],
      ["completed_with_issues", true, (app, id) => app.jobs.completeWithIssues(id, { reason: "two warnings" })],
      ["cancelled while queued", false, (app, id) => app.jobs.cancel(id, { actor: "human", reason: "not needed" })],
      ["cancelled while running", true, (app, id) => app.jobs.cancel(id, { actor: "human", reason: "not needed" })],
      ["poisoned", true, (app, id) => app.jobs.poison(id, { reason: "bad input" })],
      ["failed", true, (app, id) => app.jobs.fail(id, "the model refused")],
      ["awaiting_validation (until)", true, (app, id) => app.jobs.awaitValidation(id), ["awaiting_validation"]],
      ["running (until)", false, (app, id) => app.jobs.start(id), ["running"]]
    ]
    for (const by of ["this process", "another process"] as const) {
      for (const [name, running, move, until] of moves) {
        const id = yield* submit
        if (running) yield* main.jobs.start(id)
        const deadline = (yield* now) + HOUR
        const before = Chunk.reduce(yield* TestClock.sleeps(), 0, (n, at) => (at === deadline ? n + 1 : n))
        const awaiting = yield* Effect.fork(Effect.exit(main.jobs.await(id, { pollInterval: "1 hour", ...(until === undefined ? {} : { until }) })))
        yield* parkedAt(`await of "${name}" parked`, deadline, before + 1)
        yield* move(by === "this process" ? main : other, id)
        if (by === "another process" && !pg) yield* TestClock.adjust(HOUR)
        observe(`${name}, moved by ${by}`, yield* within(`await of "${name}", moved by ${by}`, Fiber.join(awaiting)))
        if (by === "another process" && pg) yield* TestClock.adjust(HOUR)
      }
    }

    // Timeouts: a queued job, and a job awaiting its user (not a state awaited by default).
    const queued = yield* submit
    const asking = yield* submit
    yield* main.jobs.start(asking)
    yield* main.jobs.awaitValidation(asking)
    yield* main.jobs.awaitUser(asking, { reason: "which document?" })
    for (const [name, id] of [["queued", queued], ["awaiting_user", asking]] as const) {
      const deadline = (yield* now) + 30_000
      const awaiting = yield* Effect.fork(Effect.exit(main.jobs.await(id, { timeout: "30 seconds", pollInterval: "1 hour" })))
      yield* parkedAt(`await of the ${name} job parked`, deadline)
      yield* TestClock.adjust(30_000)
      observe(`timed out, ${name}`, yield* within(`await of the ${name} job timing out`, Fiber.join(awaiting)))
    }
    observe("unknown job", yield* Effect.exit(main.jobs.await("0190a000-0000-7000-8000-00000000dead" as JobId, { timeout: "1 second" })))
    return answers
  })

/** A worker handler that says when it starts and counts its calls per job. */
const countingHandler = (started: Queue.Queue<JobId>, calls: Map<string, number>) => (ctx: Jobs.RunContext) =>
  Effect.gen(function*() {
    calls.set(ctx.job.job_id, (calls.get(ctx.job.job_id) ?? 0) + 1)
    yield* Queue.offer(started, ctx.job.job_id)
    return { ran: ctx.job.job_id }
  })

const MINUTE = 60_000

/**
 * Wake-up: pools whose poll (a minute) never comes unless the clock moves. Woken by a submit
 * in their own process; by a submit in another process (PostgreSQL: its NOTIFY, the clock
 * still; SQLite, as the README says: the next poll); two processes' pools woken by one submit
 * run it once; a cancel from another process stops the running program (PostgreSQL: at once;
 * SQLite: at its next heartbeat); two heartbeats land while a program works. The outcome of
 * each: the job's whole story, and the calls.
 */
const wakeOutcomes = (db: Database, main: App, other: App) =>
  Effect.gen(function*() {
    const third = yield* openApp(db)
    const jobNames: Array<readonly [string, string]> = []
    const submit = (app: App) =>
      Effect.map(app.jobs.submit(request()), (job) => {
        jobNames.push([job.job_id, `job#${jobNames.length}`])
        return job.job_id
      })
    const outcomes: Record<string, unknown> = {}
    const started = yield* Queue.unbounded<JobId>()
    const calls = new Map<string, number>()
    const pool = (app: App) =>
      app.jobs.worker({ concurrency: 2, pollInterval: "1 minute", drainTimeout: "1 second", handlers: { doc_summarize: countingHandler(started, calls) } })
    // A TestClock lists a sleep that was interrupted until the clock passes it: before each
    // scenario's pools park, the clock moves a millisecond, so their parking place is new.
    const freshDeadline = Effect.zipRight(TestClock.adjust(1), Effect.map(now, (at) => at + MINUTE))

    yield* Effect.scoped(Effect.gen(function*() {
      const deadline = yield* freshDeadline
      yield* pool(main)
      yield* parkedAt("the pool's two loops parked", deadline, 2)
      const id = yield* submit(main)
      assert.strictEqual(yield* within("the job submitted in the pool's process starts, the clock still", Queue.take(started)), id)
      yield* settled(main, id)
      outcomes["submitted in the pool's process"] = { story: yield* story(main, id, jobNames, "keep"), calls: calls.get(id) }
    }))

    yield* Effect.scoped(Effect.gen(function*() {
      const deadline = yield* freshDeadline
      yield* pool(main)
      yield* parkedAt("the pool's two loops parked", deadline, 2)
      const elsewhere = yield* submit(other)
      if (!db.pg) yield* TestClock.adjust(MINUTE)
      assert.strictEqual(yield* within("the job submitted in another process starts", Queue.take(started)), elsewhere)
      yield* settled(main, elsewhere)
      if (db.pg) yield* TestClock.adjust(MINUTE)
      // When it ran is each dialect's promise (SQLite: a poll later); what it ran to is compared.
      outcomes["submitted in another process"] = { story: yield* story(main, elsewhere, jobNames, "drop"), calls: calls.get(elsewhere) }
    }))

    const once = yield* Effect.scoped(Effect.gen(function*() {
      const deadline = yield* freshDeadline
      yield* pool(main)
      yield* pool(third)
      yield* parkedAt("two processes' pools parked, two loops each", deadline, 4)
      const id = yield* submit(other)
      if (!db.pg) yield* TestClock.adjust(MINUTE)
      assert.strictEqual(yield* within("the job two pools were woken for starts", Queue.take(started)), id)
      yield* settled(main, id)
      if (db.pg) yield* TestClock.adjust(MINUTE)
      return id
    }))
    // Counted once both pools have shut down: a loop still on its way to the job would have run it by now.
    outcomes["two processes' pools, one submit"] = { story: yield* story(main, once, jobNames, "drop"), calls: calls.get(once), others: yield* Queue.size(started) }

    yield* Effect.scoped(Effect.gen(function*() {
      const deadline = yield* freshDeadline
      const running = yield* Deferred.make<JobId>()
      const stopped = yield* Deferred.make<void>()
      yield* main.jobs.worker({
        concurrency: 1,
        pollInterval: "1 minute",
        drainTimeout: "1 second",
        run: { heartbeatInterval: "5 seconds" },
        handlers: {
          doc_summarize: (ctx) =>
            Effect.zipRight(Deferred.succeed(running, ctx.job.job_id), Effect.never).pipe(Effect.onInterrupt(() => Deferred.succeed(stopped, undefined)))
        }
      })
      yield* parkedAt("the pool's loop parked", deadline, 1)
      const id = yield* submit(main)
      yield* within("the program starts", Deferred.await(running))
      // The run beats every 5 s: its next beat is parked on the clock.
      yield* parkedAt("the run's heartbeat parked", (yield* now) + 5_000, 1)
      yield* other.jobs.cancel(id, { actor: "human", reason: "cancelled from another process" })
      if (!db.pg) yield* TestClock.adjust(5_000)
      yield* within("the cancel from another process stops the program", Deferred.await(stopped))
      yield* settled(main, id)
      if (db.pg) yield* TestClock.adjust(5_000)
      outcomes["cancelled from another process while running"] = { story: yield* story(main, id, jobNames, "keep") }
    }))
    yield* Effect.scoped(Effect.gen(function*() {
      const deadline = yield* freshDeadline
      const running = yield* Deferred.make<JobId>()
      const release = yield* Deferred.make<void>()
      yield* main.jobs.worker({
        concurrency: 1,
        pollInterval: "1 minute",
        drainTimeout: "1 second",
        run: { heartbeatInterval: "5 seconds" },
        handlers: { doc_summarize: (ctx) => Effect.as(Effect.zipRight(Deferred.succeed(running, ctx.job.job_id), Deferred.await(release)), { beats: 2 }) }
      })
      yield* parkedAt("the pool's loop parked", deadline, 1)
      const id = yield* submit(main)
      yield* within("the program starts", Deferred.await(running))
      // Two beats land while the program works: each written once the next is parked.
      for (const beat of [1, 2, 3]) {
        yield* parkedAt(`the run's heartbeat ${beat} parked`, (yield* now) + 5_000, 1)
        if (beat < 3) yield* TestClock.adjust(5_000)
      }
      yield* Deferred.succeed(release, undefined)
      yield* settled(main, id)
      outcomes["two heartbeats mid-program"] = { story: yield* story(main, id, jobNames, "keep") }
    }))
    return outcomes
  })

/**
 * The Janitor's scheduled passes (daily; prune after 36 hours, keep the newest one; the
 * recorder's 7-day retention) after the same clock moves, day by day for eight days: each
 * pass's report, the jobs left, and the events left (types, in order) after it.
 */
const janitorPasses = (db: Database) =>
  Effect.gen(function*() {
    const app = yield* openApp(db, { wake: "poll" })
    const jobNames: Array<readonly [string, string]> = []
    const submit = Effect.map(app.jobs.submit(request()), (job) => {
      jobNames.push([job.job_id, `job#${jobNames.length}`])
      return job.job_id
    })
    const run = (id: JobId) => app.jobs.start(id)
    // The sixth job stays queued: never prunable.
    const [completed, cancelled, failed, poisoned, pinned, , later, laterCancelled] = yield* Effect.all(Array.from({ length: 8 }, () => submit))
    yield* run(completed!)
    yield* app.jobs.complete(completed!)
    yield* app.jobs.cancel(cancelled!, { actor: "human", reason: "not needed" })
    yield* run(failed!)
    yield* app.jobs.fail(failed!, "the model refused")
    yield* run(poisoned!)
    yield* app.jobs.poison(poisoned!, { reason: "bad input" })
    yield* run(pinned!)
    yield* app.jobs.complete(pinned!)
    yield* app.jobs.pin(pinned!)
    const DAY = 24 * HOUR
    const janitor = Context.get(
      yield* Layer.build(Janitor.layer({ interval: "1 day", olderThan: "36 hours", keepNewest: 1 }).pipe(Layer.provide(Layer.succeedContext(app.context)))),
      Janitor.Janitor
    )
    const passes: Array<unknown> = []
    const names = new Names(jobNames)
    for (let day = 0; day <= 8; day++) {
      if (day > 0) yield* TestClock.adjust(DAY)
      // The pass has ended once the schedule sleeps until the next one.
      yield* parkedAt(`the Janitor's pass of day ${day}`, (yield* now) + DAY)
      // Day 1's work comes after its pass: begun with the pass, its events and the pass's share one
      // instant, and which wrote first would be the scheduler's choice, not the store's.
      if (day === 1) {
        yield* run(later!)
        yield* app.jobs.complete(later!)
        yield* app.jobs.cancel(laterCancelled!, { actor: "human", reason: "not needed either" })
      }
      const state = yield* janitor.state
      const left = yield* app.jobs.list({ limit: 100, order: "asc" })
      const events = yield* app.store.listEvents({ limit: 1000, order: "asc" })
      passes.push(normalise({
        day,
        passes: state.passes,
        last: Option.map(state.last, (exit) => answer(exit, names)),
        jobs: left.items.map((job) => [job.job_id, job.state, job.is_pinned]),
        events: events.items.map((event) => [event.type, event.job_id, event.body["event_name"] ?? event.body["to_state"] ?? null])
      }, names, "keep"))
    }
    return passes
  })

/**
 * Startup recovery's `sweepEvery` in a second process, while the first — its worker dead — left
 * runs behind: after the same clock moves, the same runs stalled by the same sweep, each once with
 * its one event, and a run still beating left alone.
 */
const recoverySweeps = (db: Database) =>
  Effect.gen(function*() {
    const dead = yield* openApp(db, { wake: "poll" })
    const jobNames: Array<readonly [string, string]> = []
    const ids: Array<JobId> = []
    for (let i = 0; i < 4; i++) {
      const job = yield* dead.jobs.submit(request({ priority: 4 - i }))
      jobNames.push([job.job_id, `job#${i}`])
      ids.push(job.job_id)
    }
    const claims = [yield* dead.jobs.claimNext(), yield* dead.jobs.claimNext(), yield* dead.jobs.claimNext()]
    yield* TestClock.adjust(20_000)
    // The first run beats once more; the others' worker is gone.
    yield* dead.store.heartbeat(claims[0]!.run.id)
    const sweeper = yield* openApp(db, { wake: "poll", gate: Recovery.layerStartup({ threshold: "30 seconds", sweepEvery: "30 seconds" }) })
    const gate = Context.get(sweeper.context, Recovery.RecoveryGate)
    const names = new Names(jobNames)
    const steps: Array<unknown> = [{ startup: answer(yield* Effect.exit(gate.result), names) }]
    for (let sweep = 1; sweep <= 3; sweep++) {
      // The sweep before has ended once the next one is parked on the clock.
      yield* parkedAt(`recovery sweep ${sweep} parked`, (yield* now) + 30_000)
      if (sweep === 2) yield* dead.store.heartbeat(claims[0]!.run.id).pipe(Effect.exit)
      yield* TestClock.adjust(30_000)
    }
    yield* parkedAt("the last recovery sweep ended", (yield* now) + 30_000)
    for (const id of ids) steps.push(yield* story(sweeper, id, jobNames, "keep"))
    // The gate's second look (one threshold after startup) and the first sweep (sweepEvery after startup) fall
    // at the same instant, so which of the two stalls job#1's run is scheduling's; its reason names that pass
    // (R9). Either is the same outcome: the pass's name is compared as one of the two, nothing else is.
    return JSON.parse(JSON.stringify(steps).replace(/\((startup recovery|recovery sweep): heartbeat timeout\)/g, (whole, pass: string) =>
      whole.replace(pass, "startup recovery's second look or recovery sweep"))) as Array<unknown>
  })

describe("reliability: SQLite and PostgreSQL reach the same outcomes where scheduling decides the order", () => {
  /** Every call at least once, whatever the seed: then the generated queues. */
  const everyCall: ReadonlyArray<QueuedJob> = [
    { kind: "doc_summarize", priority: 0, maxAttempts: 2, script: ["die"] },
    { kind: "doc_edit", priority: 1, maxAttempts: 1, script: ["violation"] },
    { kind: "doc_summarize", priority: 0, maxAttempts: 1, script: ["interrupt", "ok"] },
    { kind: "doc_edit", priority: 2, maxAttempts: 2, script: ["cancel"] },
    { kind: "doc_summarize", priority: -1, maxAttempts: 3, script: ["fail", "fail", "ok"], metrics: { input_tokens: 7 } },
    { kind: "doc_edit", priority: 0, maxAttempts: 1, script: ["fail", "ok"] },
    { kind: "workflow_run", priority: 2, maxAttempts: 1, script: ["ok"] }
  ]
  const queues = [everyCall, ...fc.sample(fc.array(queuedJob, { minLength: 6, maxLength: 10 }), { numRuns: QUEUES - 1, seed: SEED })]

  it.live(`R17 a pool of ${LOOPS} loops drains ${QUEUES} queues (one with every kind of call, the others generated) to the same outcome job by job — state, attempt, metrics, runs, nodes, events — on SQLite and PostgreSQL (coalescing or not), no job ever run twice at once (seed ${SEED})`, () =>
    Effect.gen(function*() {
      const states: Record<string, number> = {}
      const calls: Record<string, number> = {}
      // One database per dialect, one pool per queue: each queue's jobs are its own (named in submit order).
      // The dialects at once: each has its own database, and only outcomes are compared.
      const byDialect = yield* Effect.forEach(DIALECTS, (dialect) =>
        Effect.scoped(Effect.gen(function*() {
          const app = yield* openApp(yield* dialect.fresh("outcome pool"))
          return yield* Effect.forEach(queues, (queue) => drainQueue(app, queue))
        })), { concurrency: "unbounded" })
      for (const [q, queue] of queues.entries()) {
        for (const [d, dialect] of DIALECTS.entries()) {
          assert.deepStrictEqual(byDialect[d]![q]!.violations, [], `seed ${SEED}, queue ${q} on ${dialect.name}: invariants`)
        }
        compareAll(`seed ${SEED}, queue ${q} (${JSON.stringify(queue)})`, DIALECTS.map((dialect, d) => [dialect.name, byDialect[d]![q]!.jobs] as const))
        for (const [what, n] of Object.entries(byDialect[0]![q]!.calls)) calls[what] = (calls[what] ?? 0) + n
        for (const job of byDialect[0]![q]!.jobs) {
          const state = String((job as { readonly job: { readonly state: unknown } }).job.state)
          states[state] = (states[state] ?? 0) + 1
        }
      }
      report("same-outcome pool", { seed: SEED, queues: QUEUES, loops: LOOPS, calls, states })
    }), 120_000)
  it.live("the README's await and wake-up: the same answers on SQLite and PostgreSQL — for jobs already finished, moved to each settled state (or the caller's `until`) while awaited by this process or another, timed out, or unknown; a parked pool runs a job submitted in its process at once, one submitted elsewhere (PostgreSQL: NOTIFY; SQLite: next poll), two processes' pools run one job once, a cancel from another process stops the program, two heartbeats land while a program works", () =>
    Effect.gen(function*() {
      const outcome = yield* onEachDialect("outcome await and wake", awaitAndWake)
      report("same-outcome await and wake", {
        dialects: CLOCKED.map((dialect) => dialect.name),
        await: Object.fromEntries(Object.entries(outcome.await).map(([k, v]) => [k, Object.keys(v as object)[0]])),
        wake: Object.keys(outcome.wake)
      })
    }), 120_000)

  it.live("periodic sweeps: the Janitor's scheduled passes and startup recovery's sweepEvery leave the same jobs, runs and events after the same clock moves, on SQLite and PostgreSQL", () =>
    Effect.asVoid(Effect.all([onEachDialect("outcome janitor", janitorPasses), onEachDialect("outcome sweeps", recoverySweeps)], { concurrency: 2 })), 120_000)
})
