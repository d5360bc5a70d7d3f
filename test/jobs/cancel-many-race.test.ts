/**
 * Many racers: jobs run by two worker pools (each on a store of its own),
 * each job cancelled by an operator on a third store at a point of its run
 * picked from a seed and forced there — while its program waits at its
 * start, inside a node, while its node's end is written and not committed,
 * after its node; while its completion or failure is
 * written and not committed; between a failed attempt and its retry's
 * requeue; or first, held uncommitted while the program's own settle
 * begins. All the jobs race at once, so holds of one job overlap the others'
 * writes (on SQLite each hold is the file's write lock).
 *
 * Each job must end as its point decides, once, its run and nodes ended
 * with it, every process's `await` reading that end; a cancel that came too
 * late fails with `IllegalTransition` naming the state it found; and the
 * whole database passes the reliability audit.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Scope from "effect/Scope"
import type { AiJob } from "../../src/domain/AiJob.js"
import type { JobState } from "../../src/domain/JobState.js"
import type { RunContext } from "../../src/Jobs.js"
import { engineOn } from "../engine/engine.js"
import { audit } from "../reliability/invariants.js"
import { random } from "../reliability/random.js"
import { summarize } from "./jobs.suite.js"
import { allAwait, failureOf, type Gate, hooked, type Hooks, makeGate, makeHooks, moves, open, operatorOn, pass, RETRY } from "./endRaceHooks.js"
import { sharedBackends } from "./shared-database.js"

/** Where a job's cancel is forced. */
const POINTS = [
  "at start",
  "in node",
  "node end held",
  "after node",
  "completion held",
  "failure held",
  "requeue held",
  "cancel first, then completion",
  "cancel first, then failure"
] as const
type Point = typeof POINTS[number]

const ROUNDS = 4
const SEED = Number(process.env["HSK_RACE_SEED"] ?? 20261204)

/** What a point leaves: the job's end, its moves after its claim, its run's end, and whether the cancel wins. */
const expected: Record<Point, { readonly state: JobState; readonly moves: ReadonlyArray<string>; readonly run: string; readonly cancelled: boolean }> = {
  "at start": { state: "cancelled", moves: ["running→cancelled"], run: "cancelled", cancelled: true },
  "in node": { state: "cancelled", moves: ["running→cancelled"], run: "cancelled", cancelled: true },
  "node end held": { state: "cancelled", moves: ["running→cancelled"], run: "cancelled", cancelled: true },
  "after node": { state: "cancelled", moves: ["running→cancelled"], run: "cancelled", cancelled: true },
  "completion held": { state: "completed", moves: ["running→completed"], run: "completed", cancelled: false },
  "failure held": { state: "failed", moves: ["running→failed"], run: "failed", cancelled: false },
  "requeue held": { state: "cancelled", moves: ["running→failed", "failed→queued", "queued→cancelled"], run: "failed", cancelled: true },
  "cancel first, then completion": { state: "cancelled", moves: ["running→cancelled"], run: "cancelled", cancelled: true },
  "cancel first, then failure": { state: "cancelled", moves: ["running→cancelled"], run: "cancelled", cancelled: true }
}

/** A job's program stops at three gates: its start, inside its one node, after the node; then fails or succeeds. */
interface Plan {
  readonly point: Point
  readonly fails: boolean
  readonly start: Gate
  readonly node: Gate
  readonly end: Gate
}

/**
 * The pools' program. Every job is running before any is let on (`everyone`):
 * with as many loops in each pool as half the jobs, each pool runs half.
 */
const programOf = (plans: Map<string, Plan>, total: number) => {
  const everyone = Deferred.unsafeMake<void>(FiberId.none)
  const ran = [0, 0]
  const handler = (pool: number) => (ctx: RunContext) =>
    Effect.gen(function*() {
      const plan = plans.get(ctx.job.job_id)!
      ran[pool]!++
      if (ran[0]! + ran[1]! === total) yield* Deferred.succeed(everyone, undefined)
      yield* pass(plan.start)
      yield* ctx.node({ node_id: "draft", node_type: "llm" }, pass(plan.node))
      yield* pass(plan.end)
      if (plan.fails) return yield* Effect.fail("the model gave up")
      return { summary: ctx.job.job_id }
    })
  return { handler, everyone: Deferred.await(everyone), ran }
}

/** Drives one job to its point, cancels it there, and lets everything go on. The cancel's exit. */
const race = (
  job: AiJob,
  plan: Plan,
  cancel: Effect.Effect<AiJob, unknown>,
  worker: Hooks,
  desk: Hooks
): Effect.Effect<Exit.Exit<AiJob, unknown>> =>
  Effect.gen(function*() {
    const id = job.job_id
    const openAll = Effect.all([open(plan.start), open(plan.node), open(plan.end)])
    /**
     * The worker's write held open once the program passed `gates`; the cancel begun (it waits
     * for the lock); then the write goes on, and after the cancel the rest of the program.
     */
    const cancelWhileHeld = (held: Gate, gates: ReadonlyArray<Gate> = [plan.start, plan.node, plan.end]) =>
      Effect.gen(function*() {
        const cancelStarted = yield* Deferred.make<void>()
        desk.finishStarted.set(id, cancelStarted)
        yield* Effect.forEach(gates, open)
        yield* Deferred.await(held.reached)
        const cancelling = yield* Effect.fork(Effect.exit(cancel))
        yield* Deferred.await(cancelStarted)
        yield* open(held)
        const cancelled = yield* Fiber.join(cancelling)
        yield* openAll
        return cancelled
      })
    switch (plan.point) {
      case "at start":
      case "in node":
      case "after node": {
        const gates = [plan.start, plan.node, plan.end]
        const at = plan.point === "at start" ? 0 : plan.point === "in node" ? 1 : 2
        for (const gate of gates.slice(0, at)) yield* open(gate)
        yield* Deferred.await(gates[at]!.reached)
        const cancelled = yield* Effect.exit(cancel)
        yield* openAll
        return cancelled
      }
      case "node end held": {
        const held = yield* makeGate
        worker.nodeEndHeld.set(id, held)
        return yield* cancelWhileHeld(held, [plan.start, plan.node])
      }
      case "completion held":
      case "failure held": {
        const held = yield* makeGate
        worker.settleHeld.set(id, held)
        return yield* cancelWhileHeld(held)
      }
      case "requeue held": {
        const held = yield* makeGate
        worker.requeueHeld.set(id, held)
        return yield* cancelWhileHeld(held)
      }
      case "cancel first, then completion":
      case "cancel first, then failure": {
        const held = yield* makeGate
        desk.finishHeld.set(id, held)
        const settleStarted = yield* Deferred.make<void>()
        worker.settleStarted.set(id, settleStarted)
        yield* Effect.all([open(plan.start), open(plan.node)])
        yield* Deferred.await(plan.end.reached)
        const cancelling = yield* Effect.fork(Effect.exit(cancel))
        yield* Deferred.await(held.reached)
        yield* open(plan.end)
        yield* Deferred.await(settleStarted)
        yield* open(held)
        return yield* Fiber.join(cancelling)
      }
    }
  })

for (const backend of sharedBackends) {
  describe(`many cancels racing two pools on ${backend.name}`, () => {
    it.live(`R6 ${POINTS.length * ROUNDS} jobs over two pools, each cancelled at a forced point of its run (seed ${SEED}): each ends as its point decides, once, and the database passes the audit`, () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("cancel many")
        const hooks = makeHooks()
        const desk = makeHooks()
        const plans = new Map<string, Plan>()
        const program = programOf(plans, POINTS.length * ROUNDS)
        const pools = yield* Effect.forEach([1, 2], () => engineOn(database, { retry: RETRY, wrapStore: hooked(hooks) }))
        const operator = yield* operatorOn(database, desk)
        const rng = random(SEED)
        const points = POINTS.flatMap((point) => Array.from({ length: ROUNDS }, () => point))
        // A seeded shuffle: the same seed, the same order of points over the jobs.
        for (let i = points.length - 1; i > 0; i--) {
          const j = rng.int(0, i)
          ;[points[i], points[j]] = [points[j]!, points[i]!]
        }
        const jobs = yield* Effect.forEach(points, (point) =>
          Effect.gen(function*() {
            const fails = point === "failure held" || point === "requeue held" || point === "cancel first, then failure"
            // A failure that must stay failed has no attempt left; the requeued one has one.
            const job = yield* operator.submit(summarize(point === "requeue held" ? {} : { max_attempts: 1 }))
            plans.set(job.job_id, { point, fails, start: yield* makeGate, node: yield* makeGate, end: yield* makeGate })
            return job
          }))
        const scope = yield* Scope.make()
        for (const [i, { jobs: pool }] of pools.entries()) {
          const concurrency = (POINTS.length * ROUNDS) / 2
          yield* Scope.extend(pool.worker({ concurrency, pollInterval: "50 millis", handler: program.handler(i), run: { heartbeatInterval: "1 hour" } }), scope)
        }
        yield* program.everyone
        assert.deepStrictEqual(program.ran, [ROUNDS * POINTS.length / 2, ROUNDS * POINTS.length / 2], "each pool runs half the jobs")
        const cancels = yield* Effect.forEach(
          jobs,
          (job) => race(job, plans.get(job.job_id)!, operator.cancel(job.job_id, { actor: "human", reason: "changed my mind" }), hooks, desk),
          { concurrency: "unbounded" }
        )

        const sides = [...pools.map(({ jobs }) => jobs), operator]
        for (const [i, job] of jobs.entries()) {
          const point = plans.get(job.job_id)!.point
          const want = expected[point]
          const label = `job ${i} (${point})`
          const cancel = cancels[i]!
          if (want.cancelled) {
            assert.isTrue(Exit.isSuccess(cancel), `${label}: ${JSON.stringify(failureOf(cancel))}`)
          } else {
            assert.deepInclude(failureOf(cancel), { _tag: "IllegalTransition", from: want.state }, label)
          }
          yield* allAwait(sides, job.job_id, want.state)
          const history = yield* operator.history(job.job_id)
          assert.deepStrictEqual(yield* moves(operator, job.job_id), ["→queued", "queued→running", ...want.moves], label)
          assert.deepStrictEqual(history.runs.map(({ run }) => run.status), [want.run], label)
          const nodes = history.runs.flatMap(({ nodes }) => nodes.map((node) => node.status))
          assert.notInclude(nodes, "running", `${label}: no node left running`)
          if (point === "in node") assert.deepStrictEqual(nodes, ["cancelled"], `${label}: its open node ended with the run`)
          if (point === "node end held") assert.deepStrictEqual(nodes, ["completed"], `${label}: its node ended as its worker wrote it, before the cancel`)
          if (point === "completion held") assert.deepStrictEqual(history.job.job_outputs, { summary: job.job_id }, label)
          if (want.state === "cancelled") assert.strictEqual(history.job.job_outputs, null, `${label}: nothing of the taken run written`)
          if (point.startsWith("cancel first")) {
            assert.deepInclude(failureOf(hooks.settleExits.get(job.job_id)!), { _tag: "RunNotActive", status: "cancelled" }, label)
          }
        }
        yield* Scope.close(scope, Exit.void)
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 180_000)
  })
}
