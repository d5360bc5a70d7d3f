/**
 * (Stop 46: eager dispatch is now the library's — `JobStore.createClaimed`,
 * src/internal/jobs/eagerDispatch.ts — and bench/pickup.ts samples it on and
 * off. This file is the measure taken before it was built, kept as it was.)
 *
 * PROTOTYPE MEASURE, not the feature (issue 16, h67): what "eager dispatch"
 * (Temporal's eager activity dispatch / eager workflow start) would save a
 * pickup on PostgreSQL — the submit writes the job AND claims it for an idle
 * worker of this process in ONE transaction, then hands the claim straight
 * to the runner. Nothing in src/ does this; the eager systems below build it
 * from the library's pieces, for this one idle worker, with none of what the
 * real feature would have to decide (ordering against queued jobs, which
 * worker is parked, announcements before commit, SQLite, errors). Note that
 * `Jobs.submit` here announces its job in process inside the outer
 * transaction, before the commit — harmless with no pool in these runtimes,
 * wrong for a feature.
 *
 *   npx tsx bench/pickupEager.ts [samples=120]
 *   npx tsx bench/pickupEager.ts replay [samples=120]
 *
 * Each on a database of its own on one bench cluster, sampled as
 * bench/pickup.ts samples (an idle worker, a random pause of 20–1020 ms,
 * ms from the call to submit to the program's first line, same process),
 * one sample of each per round, the order rotated round by round so each
 * follows each other alike:
 *
 * - `today`: bench/pickup.ts's own `oursSampler` — `Jobs.submit`, then the
 *   idle one-loop pool woken by the in-process bell (LISTEN/NOTIFY behind it)
 *   claims and runs. Two commits.
 * - `eager, public API`: `store.transaction(Jobs.submit, then Jobs.start)`,
 *   then `Jobs.run`. `Jobs.start` opens its own `store.transaction`, which
 *   nested is a SAVEPOINT (one round trip: @effect/sql sends no RELEASE on
 *   success), and takes the job's row lock (another); `Jobs.run` reads the job and its run back (two more) and beats
 *   at once. The closest public composition, not what a feature would send.
 * - `eager, one transaction`: what an implementation inside Jobs would send:
 *   in one `store.transaction`, `Jobs.submit` (its store calls join it), then
 *   the claim's admission re-check, `createRun` and the guarded
 *   `queued → running` transition with the claim's records — no savepoint, no
 *   lock (the row is this transaction's own, invisible until commit) — then
 *   the pool's runner (`makeRunner`, first beat one interval away, as a pool
 *   runs what it has just claimed). Built from the Jobs layer's internal
 *   pieces exactly as `Jobs.make` builds them.
 * - `graphile-worker`: bench/pickup.ts's `graphileSampler`.
 *
 * Also prints the statements each of ours sends from submit to the program's
 * start (the `pg` driver's hook, bench/pgStatementHooks.ts: one query, one
 * round trip), for one pickup after warm-up, and the load average.
 *
 * The eager transaction is 5 round trips (BEGIN, 3 statements, COMMIT)
 * where today's pickup is 2 (the submit's statement, the claim's), so the
 * feature only pays with a one-statement submit-and-claim. `replay` times
 * that statement, hand-written here, against the eager transaction's and the
 * submit's statements on a bare `pg` client (see `replay`): the statements'
 * share alone, not a pickup.
 */
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as os from "node:os"
import { performance } from "node:perf_hooks"
import * as Pg from "pg"
import { uuidv7 } from "../src/domain/uuidv7.js"
import { Capabilities } from "../src/Capabilities.js"
import { FlightRecorder } from "../src/FlightRecorder.js"
import { Jobs } from "../src/Jobs.js"
import { makeAdmission } from "../src/internal/jobs/admission.js"
import { lifecycleEvent, makePrepare } from "../src/internal/jobs/auditEvents.js"
import { interruptedReason, makeRunner } from "../src/internal/jobs/runJob.js"
import { redactCallerText } from "../src/internal/redactCallerText.js"
import { auditWith, type Claim, JobStore } from "../src/store/JobStore.js"
import * as WakeUp from "../src/WakeUp.js"
import { migrateTarget, servicesLayer } from "./app.js"
import { NEW_JOB } from "./fixtures.js"
import { percentile } from "./harness.js"
import { hookStatements, statementLabels } from "./pgStatementHooks.js"
import { graphileSampler, oursSampler, pause, type Sampler } from "./pickup.js"
import { startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"

/** The statements sent while `recording` is on (installed before any client is made). */
let recording: Array<string> | undefined
const label = statementLabels(90)
hookStatements({ sent: (text) => recording?.push(label(text)) })

/** A latch the program opens: `next()` gives the promise of the next start. */
const startLatch = () => {
  let open: () => void = () => {}
  return { next: () => new Promise<void>((resolve) => (open = resolve)), hit: () => open() }
}

/**
 * An eager system: `claimed` submits and claims in one transaction and
 * returns the claim, `runClaim` runs the program on it. The run is left to
 * finish (settle) in the background; the next sample waits for it first.
 */
const eagerSampler = async (
  url: string,
  build: (latch: () => void) => Effect.Effect<Effect.Effect<void, unknown>, never, Jobs | JobStore | FlightRecorder | Capabilities | WakeUp.WakeUp>
): Promise<Sampler> => {
  const runtime = ManagedRuntime.make(servicesLayer({ dialect: "pg", url }, WakeUp.layerPg({ listenUrl: url })))
  const latch = startLatch()
  const pickup = await runtime.runPromise(Effect.gen(function*() {
    yield* Effect.flatMap(WakeUp.WakeUp, (wake) => wake.ready)
    return yield* build(latch.hit)
  }))
  let previous: Promise<unknown> = Promise.resolve()
  return {
    sample: async () => {
      await previous
      const begin = performance.now()
      const started = latch.next()
      previous = runtime.runPromise(pickup)
      await started
      return performance.now() - begin
    },
    stop: async () => {
      await previous
      await runtime.dispose()
    }
  }
}

/** `store.transaction(Jobs.submit, Jobs.start)`, then `Jobs.run`: the public API composed. */
const eagerPublic = (url: string) =>
  eagerSampler(url, (hit) =>
    Effect.gen(function*() {
      const jobs = yield* Jobs
      const store = yield* JobStore
      return Effect.flatMap(
        store.transaction(Effect.flatMap(jobs.submit(NEW_JOB), (job) => jobs.start(job.job_id))),
        (claim) => Effect.asVoid(jobs.run(claim.job.job_id, () => Effect.sync(hit)))
      )
    }))

/** One transaction without a savepoint, then the pool's runner: the Jobs layer's pieces, built as `Jobs.make` builds them. */
const eagerOneTransaction = (url: string) =>
  eagerSampler(url, (hit) =>
    Effect.gen(function*() {
      const jobs = yield* Jobs
      const recorder = yield* FlightRecorder
      const store = redactCallerText(yield* JobStore, recorder.redact)
      const wakeService = yield* WakeUp.WakeUp
      const prepare = makePrepare(recorder)
      const admission = makeAdmission(store, yield* Capabilities, prepare)
      const runner = makeRunner(store, recorder, prepare, { wakeUp: wakeService, retryAfter: () => Effect.succeed(null) })
      const claimed = store.transaction(Effect.gen(function*() {
        const queued = yield* jobs.submit(NEW_JOB)
        // The claim's admission records, as a claim takes them (claim.ts `claimRecords`).
        const { records, verdict } = yield* admission.recheck(queued)
        if (verdict._tag === "Refused") return yield* Effect.die("the bench's job is admitted")
        const run = yield* store.createRun(queued.job_id)
        const record = yield* prepare(lifecycleEvent({ job: queued, from: "queued", to: "running", workflow_run_id: run.id }))
        const job = yield* store.transition({
          job_id: queued.job_id,
          from: "queued",
          to: "running",
          workflow_run_id: run.id,
          events: auditWith([...records, record])
        })
        return { job, run } satisfies Claim
      }))
      return Effect.flatMap(claimed, (claim) =>
        Effect.asVoid(runner(claim.job, claim.run, () => Effect.sync(hit), {}, interruptedReason, true)))
    }))

/**
 * The statements alone, replayed on a `pg` client of their own (named
 * prepared statements, as the store sends them), interleaved: what the eager
 * transaction above sends (BEGIN, the submit's INSERT, the run's INSERT, the
 * guarded UPDATE, COMMIT: 5 round trips) against what a one-statement
 * submit-and-claim would send (the job inserted already `running`, its run
 * and all four records in one statement: 1 round trip, 1 commit), and the
 * submit's own statement alone (today's first commit). Same texts and
 * parameters as the store's (captured once from a run of `eager, one
 * transaction` and written out here, so they do not follow later changes to
 * the store's statements: bench/pgReplay.ts captures live), fresh ids and
 * times each time.
 */
const JOB_COLUMNS = "id, trace_id, workflow_run_id, job_kind, status, status_reason, error_message, protocol_id, profile_id, capability_profile_id, access_mode, safety_mode, entity_refs, planned_operations, metrics, job_inputs, job_outputs, is_pinned, created_at, updated_at, attempt, max_attempts, run_after, priority, backoff"
const JOB_VALUES = (run: string) => `$1, $2, ${run}, $3, $4, $5, NULL, $6, $7, $8, $9, $10,
      $11::jsonb, $12::jsonb, $13::jsonb, $14::jsonb, NULL,
      $15, $16::timestamptz, $17::timestamptz, $18, $19, $20::timestamptz, $21, $22::jsonb`
const AUDIT = (param: string, guard: string) => `audit AS (
      INSERT INTO flight_recorder_events (event_id, "timestamp", actor, type, trace_id, job_id, workflow_run_id, body)
      SELECT event_id, "timestamp", actor, type, trace_id, job_id, workflow_run_id, body
      FROM jsonb_to_recordset(${param}::jsonb) AS e(
        event_id uuid, "timestamp" timestamptz, actor text, type text,
        trace_id uuid, job_id uuid, workflow_run_id uuid, body jsonb) WHERE EXISTS (SELECT 1 FROM ${guard}))`
const SUBMIT_SQL = `WITH "created" AS (
    INSERT INTO ai_jobs (${JOB_COLUMNS}) VALUES (
      ${JOB_VALUES("NULL")})
    ON CONFLICT (id) DO NOTHING
    RETURNING id), ${AUDIT("$23", `"created"`)} SELECT * FROM "created"`
const RUN_SQL = `WITH "created" AS (
          INSERT INTO workflow_runs (id, job_id, status, last_heartbeat, error_message, created_at, updated_at)
          SELECT $1, id, $2, $3::timestamptz, NULL, $4::timestamptz, $5::timestamptz
          FROM ai_jobs WHERE id = $6
          RETURNING id) SELECT * FROM "created"`
const MOVE_SQL = `WITH "moved" AS (UPDATE ai_jobs SET status = $1, updated_at = $2::timestamptz, workflow_run_id = $3 WHERE (id = $4 AND ("status" IN ($5,$6,$7)) IS TRUE AND (status = $8) IS TRUE) RETURNING ${JOB_COLUMNS}), ${AUDIT("$9", `"moved"`)} SELECT * FROM "moved"`
/** The job inserted `running` with its run and every record: the mutual foreign keys are checked at the statement's end. */
const FUSED_SQL = `WITH "created" AS (
    INSERT INTO ai_jobs (${JOB_COLUMNS}) VALUES (
      ${JOB_VALUES("$24")})
    ON CONFLICT (id) DO NOTHING
    RETURNING id), "run" AS (
      INSERT INTO workflow_runs (id, job_id, status, last_heartbeat, error_message, created_at, updated_at)
      SELECT $24, id, 'running', $16::timestamptz, NULL, $16::timestamptz, $16::timestamptz FROM "created"
      RETURNING id), ${AUDIT("$23", `"run"`)} SELECT * FROM "created"`

const METRICS = JSON.stringify({
  duration_ms: 0, total_tokens: 0, input_tokens: 0, output_tokens: 0, tokens_planner: 0, tokens_executor: 0,
  entities_read: 0, entities_written: 0, validators_run_count: 0
})

/** The records of a submit-and-claim as the library writes them: allow + queued at submit, allow + running at claim. */
const records = (ids: { job: string; trace: string; run: string }, at: string) => {
  const record = (run: string | null, body: Record<string, unknown>) => {
    const event_id = uuidv7()
    const type = body.type as string
    const head = { event_id, timestamp: at, actor: "system", trace_id: ids.trace, job_id: ids.job }
    return { ...head, type, workflow_run_id: run, body: { ...head, ...(run === null ? {} : { workflow_run_id: run }), ...body } }
  }
  const allow = { capability_id: "doc.summarize", type: "capability_action", actor_id: "Analyst", decision_outcome: "allow", profile_id: "Analyst" }
  return {
    submit: [record(null, allow), record(null, { type: "system", from_state: null, to_state: "queued", attempt: 1 })],
    claim: [record(null, allow), record(ids.run, { type: "system", from_state: "queued", to_state: "running" })]
  }
}

const jobParams = (ids: { job: string; trace: string }, status: string, at: string, events: unknown) => [
  ids.job, ids.trace, "doc_summarize", status, "", "hsk.bench.v1", "Analyst", "Analyst", "analysis_only", "normal",
  "[]", "[]", METRICS, JSON.stringify({ doc: "bench" }), false, at, at, 1, 1, at, 0, null, JSON.stringify(events)
]

const replay = async (count: number) => {
  const cluster = await startBenchCluster()
  const url = await cluster.createDatabase("eager_replay")
  await migrateTarget({ dialect: "pg", url })
  const client = new Pg.Client({ connectionString: url })
  await client.connect()
  const q = (name: string, text: string, values: Array<unknown>) => client.query({ name, text, values })
  const fresh = () => ({ job: uuidv7(), trace: uuidv7(), run: uuidv7() })
  const variants: ReadonlyArray<readonly [string, () => Promise<unknown>]> = [
    ["submit's statement alone (today's 1st commit)", async () => {
      const ids = fresh()
      const at = new Date().toISOString()
      await q("eager_submit", SUBMIT_SQL, jobParams(ids, "queued", at, records(ids, at).submit))
    }],
    ["eager, one transaction: 5 round trips", async () => {
      const ids = fresh()
      const at = new Date().toISOString()
      const events = records(ids, at)
      await client.query("BEGIN")
      await q("eager_submit", SUBMIT_SQL, jobParams(ids, "queued", at, events.submit))
      await q("eager_run", RUN_SQL, [ids.run, "running", at, at, at, ids.job])
      await q("eager_move", MOVE_SQL, ["running", at, ids.run, ids.job, "queued", "stalled", "awaiting_user", "queued", JSON.stringify(events.claim)])
      await client.query("COMMIT")
    }],
    ["eager, one statement (fused)", async () => {
      const ids = fresh()
      const at = new Date().toISOString()
      const events = records(ids, at)
      await q("eager_fused", FUSED_SQL, [...jobParams(ids, "running", at, [...events.submit, ...events.claim]), ids.run])
    }]
  ]
  try {
    // The fused statement does write what the transaction writes: check one of each before timing.
    for (const [, send] of variants) for (let i = 0; i < 30; i++) await send()
    const counts = await client.query(
      `SELECT (SELECT count(*) FROM ai_jobs j JOIN workflow_runs r ON r.id = j.workflow_run_id AND r.job_id = j.id
                WHERE j.status = 'running' AND r.status = 'running')::int AS claimed,
              (SELECT count(*) FROM ai_jobs WHERE status = 'queued' AND workflow_run_id IS NULL)::int AS queued,
              (SELECT count(*) FROM flight_recorder_events)::int AS events`
    )
    const found = JSON.stringify(counts.rows[0])
    // 30 submits (queued, 2 records each), 30 + 30 submit-and-claims (running with their runs, 4 records each).
    if (found !== JSON.stringify({ claimed: 60, queued: 30, events: 300 })) throw new Error(`the replay wrote ${found}`)
    console.log(`replay warm-up wrote ${found} (counts as expected)`)
    const times = variants.map((): Array<number> => [])
    for (let round = 0; round < count; round++) {
      for (let k = 0; k < variants.length; k++) {
        const i = (round + k) % variants.length
        await pause()
        const begin = performance.now()
        await variants[i]![1]()
        times[i]!.push(performance.now() - begin)
      }
    }
    console.log(`\nstatements alone, ms per submit(-and-claim), a pg client of its own (${count} each, interleaved, idle pauses)`)
    for (const [i, [name]] of variants.entries()) {
      const v = times[i]!
      console.log(`  ${name.padEnd(46)} p50 ${percentile(v, 50).toFixed(2).padStart(6)}  p90 ${percentile(v, 90).toFixed(2).padStart(6)}`)
    }
  } finally {
    await client.end()
    await cluster.stop()
  }
}

const main = async () => {
  const load = () => os.loadavg().map((n) => n.toFixed(2)).join(" ")
  if (process.argv[2] === "replay") {
    console.log(`load average at start ${load()}`)
    await replay(Number(process.argv[3] ?? 120))
    console.log(`load average at end ${load()}`)
    return
  }
  const count = Number(process.argv[2] ?? 120)
  console.log(`load average at start ${load()}`)
  const cluster = await startBenchCluster()
  const systems: Array<readonly [string, Sampler]> = []
  try {
    const todayUrl = await cluster.createDatabase("eager_today")
    systems.push(["today (submit; pool claims)", await oursSampler({ dialect: "pg", url: todayUrl }, WakeUp.layerPg({ listenUrl: todayUrl }))])
    systems.push(["eager, public API (savepoint)", await eagerPublic(await cluster.createDatabase("eager_public"))])
    systems.push(["eager, one transaction", await eagerOneTransaction(await cluster.createDatabase("eager_one"))])
    systems.push(["graphile-worker", await graphileSampler(await cluster.createDatabase("eager_graphile"))])

    // Warm-up, back to back, not counted (a worker in service is past its JIT's warm-up).
    for (const [, system] of systems) for (let i = 0; i < 30; i++) await system.sample()

    // The statements of one pickup of each of ours (after a pause: idle, as sampled).
    for (const [name, system] of systems.slice(0, 3)) {
      await new Promise((resolve) => setTimeout(resolve, 300))
      recording = []
      await system.sample()
      const sent = recording
      recording = undefined
      console.log(`\n${name}: ${sent.length} statements from submit to the program's start`)
      for (const text of sent) console.log(`    ${text}`)
    }
    // Let the last one's run settle before sampling.
    await new Promise((resolve) => setTimeout(resolve, 300))

    const latency = systems.map((): Array<number> => [])
    for (let round = 0; round < count; round++) {
      // Rotated round by round: each system follows each other one alike (shared code warmed by the one before).
      for (let k = 0; k < systems.length; k++) {
        const i = (round + k) % systems.length
        await pause()
        latency[i]!.push(await systems[i]![1].sample())
      }
    }
    const graphile = percentile(latency[3]!, 50)
    console.log(`\npickup latency, ms from submit to the program's start (${count} samples each, interleaved)`)
    for (const [i, [name]] of systems.entries()) {
      const v = latency[i]!
      console.log(
        `  ${name.padEnd(32)} p50 ${percentile(v, 50).toFixed(2).padStart(6)}  p90 ${percentile(v, 90).toFixed(2).padStart(6)}` +
          `  p99 ${percentile(v, 99).toFixed(2).padStart(6)}   p50 ÷ graphile-worker ${(percentile(v, 50) / graphile).toFixed(2)}`
      )
    }
  } finally {
    for (const [, system] of systems) await system.stop()
    await cluster.stop()
    console.log(`load average at end ${load()}`)
  }
}

runMain(main)
