/**
 * 3. Recovery: 10k stale runs among 100k running ones. Our set-based
 * `recoverStalledRuns` at its defaults (PostgreSQL: batches of 1,000, each
 * one statement, two at once; SQLite: batches of 500, one transaction each;
 * one `workflow_recovery` event per run) against the reference-style per-row
 * loop. Between samples the moved runs and jobs are put back to `running`
 * (their heartbeats stay stale); the events stay, as they would.
 */
import { performance } from "node:perf_hooks"
import * as Effect from "effect/Effect"
import * as Recovery from "../src/Recovery.js"
import { type BenchContext, freshTarget, migrateTarget, type Target, withServices } from "./app.js"
import { referenceRecoveryPg, referenceRecoverySqlite } from "./baselines/referenceRecovery.js"
import { connectPg, openSqlite } from "./drivers.js"
import { seedJobsPg, seedJobsSqlite, seedRunsPg, seedRunsSqlite } from "./fixtures.js"
import { type Measurement, measurement, timed } from "./harness.js"

const HOUR = 3_600_000

const RESET = [
  `UPDATE workflow_runs SET status = 'running' WHERE status = 'stalled'`,
  `UPDATE ai_jobs SET status = 'running' WHERE status = 'stalled'`
]

/** Loads the fixture and returns a reset function and the reference loop for `target`. */
const prepare = async (ctx: BenchContext, target: Target) => {
  const { recoveryTotal: count, recoveryStale: stale } = ctx.mode
  const now = Date.now()
  const runs = { count, staleEvery: Math.round(count / stale), staleMs: now - HOUR, freshMs: now + 24 * HOUR }
  if (target.dialect === "sqlite") {
    const db = openSqlite(target.filename)
    seedJobsSqlite(db, { count, state: "running", startMs: now - 2 * HOUR, jobsPerTrace: 1 })
    seedRunsSqlite(db, runs)
    return {
      reset: async () => {
        for (const statement of RESET) db.exec(statement)
      },
      reference: async () => referenceRecoverySqlite(db),
      close: async () => db.close()
    }
  }
  const client = await connectPg(target.url)
  await seedJobsPg(client, { count, state: "running", startMs: now - 2 * HOUR, jobsPerTrace: 1 })
  await seedRunsPg(client, runs)
  await client.query("VACUUM ANALYZE")
  return {
    reset: async () => {
      for (const statement of RESET) await client.query(statement)
    },
    reference: () => referenceRecoveryPg(client),
    close: () => client.end()
  }
}

/** Runs the recovery comparison on both dialects. */
export const run = async (ctx: BenchContext): Promise<Array<Measurement>> => {
  const out: Array<Measurement> = []
  const { recoveryTotal, recoveryStale } = ctx.mode
  for (const dialect of ["sqlite", "pg"] as const) {
    const target = await freshTarget(ctx, dialect, `recovery_${dialect}`)
    await migrateTarget(target)
    ctx.log(`recovery/${dialect}: loading ${recoveryTotal} runs (${recoveryStale} stale)`)
    const fixture = await prepare(ctx, target)
    const ours: Array<number> = []
    const reference: Array<number> = []
    try {
      await withServices(target, Effect.gen(function*() {
        for (let rep = 0; rep < ctx.mode.recoveryReps; rep++) {
          ctx.log(`recovery/${dialect}: sample ${rep + 1}/${ctx.mode.recoveryReps}`)
          const start = performance.now()
          const report = yield* Recovery.recoverStalledRuns()
          ours.push(performance.now() - start)
          if (report.recovered.length !== recoveryStale) {
            return yield* Effect.die(new Error(`ours recovered ${report.recovered.length} runs, expected ${recoveryStale}`))
          }
          yield* Effect.promise(fixture.reset)
          let moved = 0
          reference.push(yield* Effect.promise(() => timed(async () => {
            moved = await fixture.reference()
          })))
          if (moved !== recoveryStale) return yield* Effect.die(new Error(`reference recovered ${moved} runs, expected ${recoveryStale}`))
          yield* Effect.promise(fixture.reset)
        }
      }))
    } finally {
      await fixture.close()
    }
    const common = { section: "recovery", dialect, unit: "ms", params: { runs: recoveryTotal, stale: recoveryStale } } as const
    out.push(
      measurement({ ...common, id: `recovery.${dialect}.ours`, name: `recover ${recoveryStale} stale of ${recoveryTotal} runs`, system: "ours (Recovery.recoverStalledRuns)", samples: ours }),
      measurement({ ...common, id: `recovery.${dialect}.reference`, name: `recover ${recoveryStale} stale of ${recoveryTotal} runs`, system: "reference-style per-row loop (raw driver)", samples: reference })
    )
  }
  return out
}
