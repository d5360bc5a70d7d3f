/**
 * Janitor.prune of N old jobs in batches against one batch, on PostgreSQL and
 * on SQLite (a regression probe found each PostgreSQL batch locking every old
 * prunable job: O(N²/B)). Each run on a fresh database: one cancelled job
 * made 40 days ago through Jobs, cloned N−1 times in SQL (each a second older
 * than the one before), then pruned with keepNewest 0. Prints the total, the
 * batches and the first and last batches' times. Not part of `npm run bench`.
 *
 *   npx tsx bench/prunePg.ts [jobs] [batch] [pg|sqlite|both]   # default 30000, 1000, both
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { pastClock } from "../src/cli/demo/pastClock.js"
import type { FlightRecorder } from "../src/FlightRecorder.js"
import * as Janitor from "../src/Janitor.js"
import { Jobs } from "../src/Jobs.js"
import * as Storage from "../src/store/DatabaseUrl.js"
import { JobStore } from "../src/store/JobStore.js"
import { services } from "../test/jobs/services.js"
import { connectPg, openSqlite } from "./drivers.js"
import { startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"

type Program<A> = Effect.Effect<A, unknown, Jobs | JobStore | FlightRecorder>

const runOn = <A>(url: string, program: Program<A>): Promise<A> =>
  Effect.runPromise(Effect.provide(program, services(Storage.layerFromUrl(url, { migrate: true }) as Layer.Layer<JobStore, never>)) as Effect.Effect<A>)

/** One job submitted and cancelled 40 days ago. */
const oneOldJob: Program<void> = Effect.gen(function*() {
  const jobs = yield* Jobs
  const job = yield* jobs.submit({ job_kind: "doc_summarize", protocol_id: "hsk.demo.v1", profile_id: "tester", access_mode: "analysis_only", safety_mode: "normal" })
  yield* jobs.cancel(job.job_id)
}).pipe(Effect.withClock(pastClock("40 days")))

/** The prune, timed per batch. */
const prune = async (url: string, batchSize: number) => {
  const times: Array<number> = []
  let last = performance.now()
  const start = last
  const report = await runOn(url, Effect.flatMap(DateTime.now, (now) =>
    Janitor.prune({
      olderThan: DateTime.subtract(now, { days: 30 }),
      keepNewest: 0,
      batchSize,
      onBatch: () => Effect.sync(() => {
        const t = performance.now()
        times.push(t - last)
        last = t
      })
    })))
  const ms = (values: ReadonlyArray<number>) => values.map((value) => value.toFixed(0)).join(",")
  return `total ${(performance.now() - start).toFixed(0)} ms; ${times.length} batches; first ${ms(times.slice(0, 3))} ms; last ${ms(times.slice(-3))} ms; pruned ${report.pruned}`
}

/** A random version-4 UUID in SQLite's SQL, lower-case as the store's CHECK wants. */
const UUID_V4 = "lower(printf('%s-%s-4%s-%s%s-%s', hex(randomblob(4)), hex(randomblob(2)), substr(hex(randomblob(2)), 2), " +
  "substr('89ab', 1 + abs(random()) % 4, 1), substr(hex(randomblob(2)), 2), hex(randomblob(6))))"

const main = async () => {
  const n = Number(process.argv[2] ?? 30_000)
  const batchSize = Number(process.argv[3] ?? 1000)
  const which = process.argv[4] ?? "both"
  const cluster = await startBenchCluster()
  try {
    for (const [label, size] of which === "sqlite" ? [] : [["batches", batchSize], ["one batch", n]] as const) {
      const url = await cluster.createDatabase(`prune_${size}`)
      await runOn(url, oneOldJob)
      const client = await connectPg(url)
      await client.query(`INSERT INTO ai_jobs SELECT (jsonb_populate_record(NULL::ai_jobs, to_jsonb(j) || jsonb_build_object('id', gen_random_uuid(), 'updated_at', j.updated_at - (g || ' seconds')::interval))).* FROM ai_jobs j, generate_series(1, ${n - 1}) g`)
      await client.query("VACUUM ANALYZE ai_jobs")
      await client.end()
      console.log(`PostgreSQL n=${n} ${label} of ${size}: ${await prune(url, size)}`)
    }
    for (const [label, size] of which === "pg" ? [] : [["batches", batchSize], ["one batch", n]] as const) {
      const url = `sqlite:${join(mkdtempSync(join(tmpdir(), "hsk-prune-")), "jobs.db")}`
      await runOn(url, oneOldJob)
      await runOn(url, Effect.flatMap(JobStore, () => Effect.void))
      const db = openSqlite(url.slice("sqlite:".length))
      const columns = db.prepare("SELECT name FROM pragma_table_info('ai_jobs')").all().map((c) => String(c["name"]))
      const picked = columns.map((c) => c === "id" ? UUID_V4 : c === "updated_at" ? "strftime('%Y-%m-%dT%H:%M:%fZ', updated_at, '-' || g.value || ' seconds')" : c)
      db.exec(`WITH RECURSIVE g(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM g WHERE value < ${n - 1})
        INSERT INTO ai_jobs (${columns.join(",")}) SELECT ${picked.join(",")} FROM ai_jobs, g`)
      db.close()
      console.log(`SQLite n=${n} ${label} of ${size}: ${await prune(url, size)}`)
    }
  } finally {
    await cluster.stop()
  }
}

runMain(main)
