/**
 * Where the time goes (`npx tsx bench/profile.ts [sqlite|pg]`): runs our
 * create, lifecycle and recovery paths once more under the span profile
 * (bench/spans.ts) and prints, per span, calls, total and self time. Used to
 * write the analysis in BENCHMARKS.md; not part of `npm run bench`.
 */
import * as os from "node:os"
import * as fs from "node:fs"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import * as Effect from "effect/Effect"
import { Jobs } from "../src/Jobs.js"
import * as Recovery from "../src/Recovery.js"
import { type Claim, JobStore } from "../src/store/JobStore.js"
import { type BenchContext, freshTarget, migrateTarget, type Services, type Target, withServices } from "./app.js"
import { newJob } from "./create.js"
import { connectPg, openSqlite } from "./drivers.js"
import { NEW_JOB, seedJobsPg, seedJobsSqlite, seedRunsPg, seedRunsSqlite } from "./fixtures.js"
import { makeLog, QUICK } from "./harness.js"
import { startBenchCluster } from "./postgres.js"
import { makeSpanProfile } from "./spans.js"
import { runMain } from "./runMain.js"

const print = (title: string, ms: number, rows: ReturnType<ReturnType<typeof makeSpanProfile>["report"]>) => {
  console.log(`\n### ${title} — wall ${ms.toFixed(0)} ms`)
  console.log("| span | calls | total ms | self ms | self per call ms |")
  console.log("|---|---|---|---|---|")
  for (const r of rows.slice(0, 14)) {
    console.log(`| ${r.name} | ${r.count} | ${r.totalMs.toFixed(0)} | ${r.selfMs.toFixed(0)} | ${(r.selfMs / r.count).toFixed(3)} |`)
  }
}

const profile = (target: Target, title: string, program: Effect.Effect<unknown, unknown, Services>) =>
  withServices(target, Effect.gen(function*() {
    const spans = makeSpanProfile()
    const start = performance.now()
    yield* Effect.withTracer(program, spans.tracer)
    print(title, performance.now() - start, spans.report())
  }))

const main = async () => {
  const dialect = process.argv[2] === "pg" ? "pg" : "sqlite"
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-profile-"))
  const cluster = await startBenchCluster()
  const ctx: BenchContext = { mode: QUICK, log: makeLog(), cluster, tmp }
  try {
    const jobsTarget = await freshTarget(ctx, dialect, "profile_jobs")
    await profile(jobsTarget, `${dialect}: 300 × JobStore.createJob`, Effect.gen(function*() {
      const store = yield* JobStore
      for (let i = 0; i < 300; i++) yield* store.createJob(newJob)
    }))
    await profile(jobsTarget, `${dialect}: 200 lifecycles, 1 worker`, Effect.gen(function*() {
      const jobs = yield* Jobs
      const store = yield* JobStore
      for (let i = 0; i < 200; i++) {
        yield* jobs.submit(NEW_JOB)
        let claim: Claim | null = null
        while (claim === null) claim = yield* jobs.claimNext()
        yield* store.heartbeat(claim.run.id)
        yield* jobs.complete(claim.job.job_id)
      }
    }))
    const recoveryTarget = await freshTarget(ctx, dialect, "profile_recovery")
    await migrateTarget(recoveryTarget)
    const now = Date.now()
    const runs = { count: 10_000, staleEvery: 10, staleMs: now - 3_600_000, freshMs: now + 86_400_000 }
    const jobs = { count: 10_000, state: "running", startMs: now - 7_200_000, jobsPerTrace: 1 } as const
    if (recoveryTarget.dialect === "sqlite") {
      const db = openSqlite(recoveryTarget.filename)
      seedJobsSqlite(db, jobs)
      seedRunsSqlite(db, runs)
      db.close()
    } else {
      const client = await connectPg(recoveryTarget.url)
      await seedJobsPg(client, jobs)
      await seedRunsPg(client, runs)
      await client.end()
    }
    await profile(recoveryTarget, `${dialect}: recover 1000 stale of 10000 runs`, Recovery.recoverStalledRuns())
  } finally {
    await cluster.stop()
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

runMain(main)
