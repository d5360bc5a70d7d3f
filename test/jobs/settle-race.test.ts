/**
 * Issue 16: a worker's settle is one guarded write (`JobStore.settleRun`;
 * on PostgreSQL concurrent settles share one statement). Raced against
 * recovery stalling the same runs, each job must end exactly one way —
 * completed by its worker (its outputs, duration and `running → completed`
 * record) or stalled by recovery (its one `workflow_recovery` record, the
 * worker told `RunLost`) — never both, never neither. Live workers settle on
 * one store; the scan runs on another (its own PostgreSQL pool / SQLite
 * connection). The interleaving is forced, both ways round:
 *
 * - the scan first: the scan holds its rows (the building of its events,
 *   inside its transaction, is held back) while every worker settles — the
 *   settles wait behind it (on PostgreSQL, batched), then find their runs
 *   stalled: every job stalled, every worker `RunLost`;
 * - the settles first: each settle, once written, holds its transaction
 *   open before committing; the scan starts while they hold: a job whose
 *   settle held at that moment ends completed.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import type { AiJob } from "../../src/domain/AiJob.js"
import { Jobs } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import { audit } from "../reliability/invariants.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"
import { countingHeartbeats, holdingScan, realSleep, sharedBackends } from "./shared-database.js"

const JOBS = 40

/** "success", or the failure's tag and the status it names. */
const outcomeOf = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return "success"
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "None") return `defect: ${Cause.pretty(exit.cause).split("\n")[0]}`
  const error = failure.value as { readonly _tag?: string; readonly status?: string; readonly message?: string }
  return error._tag === "RunLost" ? `RunLost ${error.status}` : `${error._tag}: ${error.message}`
}

for (const backend of sharedBackends) {
  describe(`settles racing recovery on ${backend.name}`, () => {
    for (const scanFirst of [true, false]) {
      it.effect(
        `R9 issue 16 settles racing recovery's stall of the same runs (${scanFirst ? "the scan first" : "the settles first"}): each job ends exactly once, completed or stalled, its records agreeing`,
        () =>
          Effect.gen(function*() {
            const database = yield* backend.fresh(`settle race ${scanFirst ? "scan" : "settle"} first`)
            const beating = countingHeartbeats(yield* database.store({ maxConnections: 20 }))
            const settler = beating.store
            const recoverer = yield* database.store({ maxConnections: 2 })
            assert.isDefined(settler.settleRun, `${backend.name} settles in one write`)

            // The settles first: each settle written, then its transaction held open before it commits.
            const holding = new Set<string>()
            const heldSettler: JobStore["Type"] = scanFirst ? settler : {
              ...settler,
              settleRun: (settle) =>
                settler.transaction(Effect.zipLeft(
                  settler.settleRun!(settle),
                  // SQLite has one writer: the scan waits out every held settle within its busy timeout (5 s).
                  Effect.zipRight(Effect.sync(() => holding.add(settle.job_id)), realSleep(backend.name === "PostgreSQL" ? 300 : 50))
                ))
            }
            // The scan first: its events are built inside its transaction, with its rows locked; hold them there.
            const scanHolding = yield* Deferred.make<void>()
            const heldRecoverer = holdingScan(
              recoverer,
              Effect.zipRight(Deferred.succeed(scanHolding, undefined), scanFirst ? realSleep(500) : Effect.void)
            )
            const jobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, heldSettler))), Jobs)
            const scanner = yield* Layer.build(services(Layer.succeed(JobStore, heldRecoverer)))

            const started: ReadonlyArray<AiJob> = yield* settler.transaction(Effect.forEach(Array.from({ length: JOBS }, (_, i) => i), (i) =>
              Effect.tap(jobs.submit(summarize({ job_inputs: { i } })), (job) => jobs.start(job.job_id))))
            const finish = yield* Deferred.make<void>()
            const workers = yield* Effect.forEach(started, (job, i) =>
              Effect.fork(Effect.exit(jobs.run(job.job_id, () => Effect.as(Deferred.await(finish), { settled: i }), { heartbeatInterval: "1 hour" }))))
            // Each worker's one beat written (at start, in real time) before the runs go stale.
            yield* beating.atLeast(JOBS)
            yield* TestClock.adjust("1 minute")
            const scan = Effect.exit(Effect.provide(Recovery.recoverStalledRuns(), scanner))

            let heldAtScan = new Set<string>()
            let scanning: Fiber.RuntimeFiber<Exit.Exit<Recovery.RecoveryReport, unknown>>
            if (scanFirst) {
              scanning = yield* Effect.fork(scan)
              yield* Deferred.await(scanHolding)
              yield* Deferred.succeed(finish, undefined)
            } else {
              yield* Deferred.succeed(finish, undefined)
              while (holding.size === 0) yield* realSleep(5)
              heldAtScan = new Set(holding)
              scanning = yield* Effect.fork(scan)
            }
            const results = yield* Effect.forEach(workers, Fiber.join)
            const report = yield* Fiber.join(scanning)
            assert.isTrue(Exit.isSuccess(report), `the scan failed: ${outcomeOf(report)}`)
            const recovered = new Set(Exit.isSuccess(report) ? report.value.recovered.map((run) => run.job_id as string) : [])

            const tally = new Map<string, number>()
            for (const [i, result] of results.entries()) {
              const outcome = outcomeOf(result)
              tally.set(outcome, (tally.get(outcome) ?? 0) + 1)
              const job = yield* jobs.get(started[i]!.job_id)
              const records = (yield* settler.listEvents({ job_id: job.job_id, limit: 1000 })).items
              const completedRecords = records.filter((r) => (r.body as { readonly to_state?: unknown }).to_state === "completed")
              const recoveryRecords = records.filter((r) => r.type === "workflow_recovery")
              const run = (yield* settler.listRuns(job.job_id))[0]!
              if (job.state === "completed") {
                assert.strictEqual(outcome, "success", `job ${i}`)
                assert.deepStrictEqual([run.status, job.job_outputs, completedRecords.length, recoveryRecords.length], ["completed", { settled: i }, 1, 0], `job ${i}`)
                assert.isFalse(recovered.has(job.job_id), `job ${i} completed is not reported recovered`)
              } else {
                assert.strictEqual(job.state, "stalled", `job ${i}`)
                assert.strictEqual(outcome, "RunLost stalled", `job ${i}`)
                assert.deepStrictEqual([run.status, job.job_outputs, job.metrics.duration_ms, completedRecords.length, recoveryRecords.length], ["stalled", null, 0, 0, 1], `job ${i}`)
                assert.isTrue(recovered.has(job.job_id), `job ${i} stalled is reported recovered`)
              }
              // The forced order decides these.
              if (scanFirst) assert.strictEqual(job.state, "stalled", `job ${i}: the scan held its row first`)
              if (heldAtScan.has(job.job_id)) assert.strictEqual(job.state, "completed", `job ${i}: its settle held its row first`)
            }
            console.log(`[settle race, ${backend.name}, ${scanFirst ? "scan" : "settles"} first] ${JOBS} jobs: ${JSON.stringify(Object.fromEntries(tally))}; ${heldAtScan.size} settles held at the scan`)
            const snapshot = yield* database.snapshot
            assert.deepStrictEqual(audit(snapshot, { quiescent: true }), [])
          }).pipe(Effect.scoped),
        180_000
      )
    }
  })
}
