/**
 * One PostgreSQL store statement's client cost, piece by piece (issue 16):
 * the heartbeat's statement through each layer of the store's path, on the
 * same kind of connection (a pool of the store's `preparingClient`s, held
 * connections), CPU µs and Effect operations per call, interleaved rounds:
 *
 * - `pg`: a pool client's own `query` (named, described once), awaited;
 * - `held.execute`: the held connection's Effect (heldConnections.ts);
 * - `context.run`: the statement built with `sql` and compiled per call, then as above;
 * - `runs.heartbeat`: the store's method alone (the clock, the guard, the decode, the errors);
 * - `coalesced`: through group commit (coalesced.ts, internal/coalesce.ts);
 * - `store`: the whole port as `PgStore.layer` builds it (the port's input check too).
 *
 * Not part of `npm run bench`.
 *
 *   npx tsx bench/statementPieces.ts [calls] [rounds] [piece]
 *
 * With a piece's name last, only that piece runs (for a CPU profile of it:
 * `node --cpu-prof --import tsx bench/statementPieces.ts 5000 4 store`, then
 * `npx tsx bench/cpuProfileSummary.ts <file>`).
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as os from "node:os"
import * as Pg from "pg"
import { countOperations } from "../test/support/effectOperations.js"
import type { WorkflowRunId } from "../src/domain/Ids.js"
import { JobStore } from "../src/store/JobStore.js"
import * as PgStore from "../src/store/PgJobStore.js"
import { makeCoalescedMethods } from "../src/store/pg/coalesced.js"
import { makeContext } from "../src/store/pg/context.js"
import { holdConnections } from "../src/store/pg/heldConnections.js"
import { makeJobMethods } from "../src/store/pg/jobs.js"
import { preparingClient } from "../src/store/pg/preparedStatements.js"
import { columns, instantParam } from "../src/store/pg/rows.js"
import { activeRun, makeRunMethods } from "../src/store/pg/runs.js"
import { makeWorkerMethods } from "../src/store/pg/workers.js"
import { NEW_JOB } from "./fixtures.js"
import { startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"
import { cpuMicros, median } from "./trees.js"

const main = async () => {
  const [callsArg, roundsArg, only] = process.argv.slice(2)
  const CALLS = Number(callsArg ?? 1_000)
  const ROUNDS = Number(roundsArg ?? 6)
  const cluster = await startBenchCluster()
  const loads = [os.loadavg().map((l) => l.toFixed(1)).join(" ")]
  const cpu = new Map<string, Array<number>>()
  const ops = new Map<string, number>()
  try {
    const url = await cluster.createDatabase("pieces")
    const pool = new Pg.Pool({ connectionString: url, Client: preparingClient(100) as unknown as new() => Pg.ClientBase })
    pool.on("error", () => {})
    const program = Effect.gen(function*() {
      const store = yield* JobStore
      yield* store.createJob(NEW_JOB as never) // the port fills in the defaults
      const claim = yield* store.claimNext()
      if (claim === null) return yield* Effect.die("no claim")
      const runId: WorkflowRunId = claim.run.id
      const held = yield* holdConnections(pool)
      const client = yield* PgClient.PgClient
      const sql = client.withoutTransforms()
      const context = makeContext(sql, held)
      const { outside, ...runs } = makeRunMethods(context)
      const coalesced = makeCoalescedMethods(context, { ...makeJobMethods(context), ...runs, ...makeWorkerMethods(context) }, outside)
      const isActive = activeRun(sql)
      const text = `UPDATE workflow_runs r SET last_heartbeat = $1::timestamptz, updated_at = $1::timestamptz
      FROM (SELECT set_config('synchronous_commit', 'off', true)) AS unwaited
      WHERE r.id = $2 AND r.status = 'running' RETURNING ${columns.run}`
      const statement = Effect.suspend(() => {
        const at = instantParam(DateTime.unsafeNow())
        return context.run(sql`
        UPDATE workflow_runs r SET last_heartbeat = ${at}::timestamptz, updated_at = ${at}::timestamptz
        FROM (SELECT set_config('synchronous_commit', 'off', true)) AS unwaited
        WHERE r.id = ${runId} AND ${isActive}
        RETURNING ${sql.literal(columns.run)}`)
      })
      const raw = yield* Effect.promise(() => pool.connect())
      const effects: Array<readonly [string, Effect.Effect<unknown, unknown>]> = [
        ["held.execute", Effect.suspend(() => held.execute(text, [instantParam(DateTime.unsafeNow()), runId]))],
        ["context.run", statement],
        ["runs.heartbeat", runs.heartbeat(runId)],
        ["coalesced", coalesced.heartbeat(runId)],
        ["store", store.heartbeat(runId)]
      ]
      const variants: Array<readonly [string, Effect.Effect<number, unknown>]> = [
        ["pg", Effect.promise(async () => {
          const start = cpuMicros()
          for (let i = 0; i < CALLS; i++) await raw.query(text, [instantParam(DateTime.unsafeNow()), runId])
          return (cpuMicros() - start) / CALLS
        })],
        ...effects.map(([name, effect]) => [name, Effect.gen(function*() {
          const start = cpuMicros()
          for (let i = 0; i < CALLS; i++) yield* effect
          return (cpuMicros() - start) / CALLS
        })] as const)
      ]
      if (only !== undefined) variants.splice(0, variants.length, ...variants.filter(([name]) => name === only))
      for (const [name, effect] of effects) ops.set(name, (yield* countOperations(effect))[1])
      for (const [, v] of variants) yield* v // warm-up
      for (let round = 0; round < ROUNDS; round++) {
        for (const [name, v] of round % 2 === 0 ? variants : [...variants].reverse()) cpu.set(name, [...(cpu.get(name) ?? []), yield* v])
        loads.push(os.loadavg().map((l) => l.toFixed(1)).join(" "))
      }
      raw.release()
    })
    await Effect.runPromise(program.pipe(
      Effect.scoped,
      Effect.provide(PgStore.layer({ url })),
      Effect.provide(PgClient.layerFromPool({ acquire: Effect.succeed(pool), transformJson: false })),
      Effect.orDie
    )).catch((error: unknown) => {
      console.error("failed:", error)
      process.exit(1)
    })
    await pool.end()
  } finally {
    await cluster.stop()
  }
  console.log(`\n## client CPU µs (median of ${ROUNDS} rounds of ${CALLS}) and Effect operations per heartbeat statement, by layer`)
  console.log(`load average: ${loads.join(" | ")}`)
  console.log("| piece | CPU µs | ops | rounds |")
  for (const [name, values] of cpu) console.log(`| ${name} | ${median(values).toFixed(1)} | ${ops.get(name) ?? "-"} | ${values.map((v) => v.toFixed(0)).join(", ")} |`)
}

runMain(main)
