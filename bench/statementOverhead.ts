/**
 * What one statement costs through each way of running it on @effect/sql-pg
 * (issue 16, internal/execute.ts): Effect operations (counted as
 * effectOps.ts does) and CPU µs per call of `SELECT $1::int`, 6 rounds of 500
 * each, interleaved — the tagged template (span, transformer, compile,
 * scope), the same with the tracer disabled, `sql.unsafe`, a reserved
 * connection, and the client's connection (`acquirer`) with and without a
 * scope, a connection reserved once (`heldOnce`), and the store's held
 * connections (`heldSet`, store/pg/heldConnections.ts). Not part of `npm run bench`.
 *
 *   npx tsx bench/statementOverhead.ts
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Scheduler from "effect/Scheduler"
import * as Redacted from "effect/Redacted"
import * as Pg from "pg"
import { connectionOf } from "../src/store/internal/execute.js"
import { holdConnections } from "../src/store/pg/heldConnections.js"
import { startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"
import { cpuMicros, median } from "./trees.js"

const counting = () => {
  let ops = 0
  const scheduler: Scheduler.Scheduler = {
    scheduleTask: (task, priority) => Scheduler.defaultScheduler.scheduleTask(task, priority),
    shouldYield: (fiber) => { ops++; return Scheduler.defaultScheduler.shouldYield(fiber) }
  }
  return { scheduler, ops: () => ops }
}

const main = async () => {
  const cluster = await startBenchCluster()
  try {
    const url = await cluster.createDatabase("probe")
    const program = Effect.gen(function*() {
      const sql = (yield* PgClient.PgClient).withoutTransforms()
      const text = "SELECT $1::int AS x"
      const acquirer = connectionOf(sql)!
      const variants: Record<string, (i: number) => Effect.Effect<unknown, unknown>> = {
        template: (i) => sql`SELECT ${i}::int AS x`,
        templateNoTrace: (i) => Effect.withTracerEnabled(sql`SELECT ${i}::int AS x`, false),
        unsafe: (i) => sql.unsafe(text, [i]),
        reserve: (i) => Effect.scoped(Effect.flatMap(sql.reserve, (c) => c.execute(text, [i], undefined))),
        scopedAcq: (i) => Effect.scoped(Effect.flatMap(acquirer, (c) => c.execute(text, [i], undefined))),
        acquirer: (i) => Effect.flatMap(acquirer, (c) => c.execute(text, [i], undefined)),
        txOrAcq: (i) =>
          Effect.flatMap(
            Effect.serviceOption(SqlClient.TransactionConnection),
            (o) => o._tag === "Some" ? o.value[0].execute(text, [i], undefined) : Effect.flatMap(acquirer, (c) => c.execute(text, [i], undefined))
          )
      }
      // One connection checked out of the pool once, for the whole run: what a statement costs without the checkout.
      const held = yield* sql.reserve
      variants.heldOnce = (i) => held.execute(text, [i], undefined)
      // The store's way (store/pg/heldConnections.ts): connections held from a pool of its own.
      const pool = yield* Effect.acquireRelease(
        Effect.sync(() => new Pg.Pool({ connectionString: url })),
        (pool) => Effect.promise(() => pool.end())
      )
      const heldSet = yield* holdConnections(pool)
      variants.heldSet = (i) => heldSet.execute(text, [i])
      const ops: Record<string, number> = {}
      const cpu: Record<string, Array<number>> = {}
      for (const name of Object.keys(variants)) { cpu[name] = [] }
      for (let round = 0; round < 6; round++) {
        for (const [name, v] of Object.entries(variants)) {
          const c = counting()
          const start = cpuMicros()
          for (let i = 0; i < 500; i++) yield* Effect.withScheduler(v(i), c.scheduler)
          cpu[name]!.push((cpuMicros() - start) / 500)
          ops[name] = c.ops() / 500
        }
      }
      for (const name of Object.keys(variants)) console.log(name, "ops", ops[name], "cpu µs", median(cpu[name]!).toFixed(1))
    })
    await Effect.runPromise(Effect.scoped(Effect.provide(Effect.scoped(program), PgClient.layer({ url: Redacted.make(url), transformJson: false }))))
  } finally {
    await cluster.stop()
  }
}
runMain(main)
