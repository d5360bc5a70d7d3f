/**
 * A claim for one kind behind another kind's backlog (issue 16, stop 78):
 * `npx tsx bench/claimOtherKinds.ts [sqlite|pg] [checkout ...]` (default: both
 * stores; this checkout).
 *
 * Per checkout, store and size: a database that checkout migrates, `size`
 * queued `doc_summarize` jobs (set-based, fixtures.ts) of which the last
 * `A_JOBS` become `terminal_exec` — the last in claim order, behind every
 * other one. Then `Jobs.claimNext({ kinds: ["terminal_exec"] })` claims
 * them one by one and polls `IDLE_POLLS` times with none left; the medians,
 * ms. Before stop 78 both read past every queued job of the other kind.
 * Not part of `npm run bench`; a 1M load takes minutes on a loaded machine.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import type { Target } from "./app.js"
import { connectPg, openSqlite } from "./drivers.js"
import { fixtureId, loadJobs, PREFIX } from "./fixtures.js"
import { startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"
import { loadTree, median, type Tree } from "./trees.js"

const SIZES = [10_000, 1_000_000] as const
const A_JOBS = 5
const IDLE_POLLS = 20
const KIND = "terminal_exec" as const

/** A marked job's subject: `KIND` (the parameter), run by a coder. */
const MARKED = "job_kind = ?, profile_id = 'Coder', capability_profile_id = 'Coder'"

/** The last `A_JOBS` of `size` fixture jobs become `KIND` (one statement). */
const markedIds = (size: number) => Array.from({ length: A_JOBS }, (_, i) => fixtureId(PREFIX.job, size - i))

/** `size` queued jobs in `target`, migrated by `tree` (statistics taken, fixtures.ts); then the last `A_JOBS` become `KIND`. */
const load = async (tree: Tree, target: Target, size: number): Promise<void> => {
  await tree.app.migrateTarget(target)
  await loadJobs(target, { count: size, state: "queued", startMs: Date.now() - 86_400_000, jobsPerTrace: 1 })
  const ids = markedIds(size)
  if (target.dialect === "sqlite") {
    const db = openSqlite(target.filename)
    db.prepare(`UPDATE ai_jobs SET ${MARKED} WHERE id IN (${ids.map(() => "?").join(", ")})`).run(KIND, ...ids)
    return db.close()
  }
  const client = await connectPg(target.url)
  await client.query(`UPDATE ai_jobs SET ${MARKED.replace("?", "$1")} WHERE id = ANY($2::uuid[])`, [KIND, ids])
  await client.end()
}

/** The claims of the `A_JOBS` jobs, then `IDLE_POLLS` polls finding none: ms each. */
const measure = (tree: Tree) =>
  Effect.gen(function*() {
    const jobs = yield* tree.jobs.Jobs
    const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.gen(function*() {
        const start = performance.now()
        const value = yield* effect
        return [performance.now() - start, value] as const
      })
    const claims: Array<number> = []
    for (let i = 0; i < A_JOBS; i++) {
      const [ms, claim] = yield* timed(jobs.claimNext({ kinds: [KIND] }))
      if (claim?.job.job_kind !== KIND) return yield* Effect.dieMessage(`claim ${i}: expected a ${KIND} job, got ${claim?.job.job_kind}`)
      claims.push(ms)
    }
    const polls: Array<number> = []
    for (let i = 0; i < IDLE_POLLS; i++) {
      const [ms, claim] = yield* timed(jobs.claimNext({ kinds: [KIND] }))
      if (claim !== null) return yield* Effect.dieMessage(`idle poll ${i}: claimed ${claim.job.job_id}`)
      polls.push(ms)
    }
    return { claim: median(claims), poll: median(polls) }
  })

const main = async () => {
  const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
  const args = process.argv.slice(2)
  const dialects = (["sqlite", "pg"] as const).filter((dialect) => !args.some((arg) => arg === "sqlite" || arg === "pg") || args.includes(dialect))
  const given = args.filter((arg) => arg !== "sqlite" && arg !== "pg")
  const roots = given.length > 0 ? given.map((root) => path.resolve(root)) : [here]
  const trees = await Promise.all(roots.map((root, i) => loadTree(given.length === 0 ? "this" : `${i}:${path.basename(root)}`, root)))
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-claim-kinds-"))
  const cluster = await startBenchCluster()
  const rows: Array<string> = []
  const loads = [os.loadavg()[0]!.toFixed(2)]
  try {
    for (const dialect of dialects) {
      for (const size of SIZES) {
        for (const tree of trees) {
          const name = `kinds_${dialect}_${size}_${trees.indexOf(tree)}`
          const target: Target = dialect === "pg"
            ? { dialect, url: await cluster.createDatabase(name) }
            : { dialect, filename: path.join(tmp, `${name}.db`) }
          const started = performance.now()
          await load(tree, target, size)
          const loaded = (performance.now() - started) / 1000
          const runtime = ManagedRuntime.make(tree.app.servicesLayer(target))
          try {
            const { claim, poll } = await runtime.runPromise(measure(tree))
            const row = `| ${tree.name} | ${dialect} | ${size.toLocaleString("en")} | ${claim.toFixed(2)} | ${poll.toFixed(2)} | ${loaded.toFixed(0)} |`
            console.log(row)
            rows.push(row)
          } finally {
            await runtime.dispose()
          }
        }
      }
    }
  } finally {
    await cluster.stop()
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  loads.push(os.loadavg()[0]!.toFixed(2))
  console.log(`\n## a ${KIND} claim behind N queued doc_summarize jobs (${A_JOBS} ${KIND} last in claim order; load ${loads.join(" → ")})`)
  console.log(`| tree | store | other kind queued | claim median ms (${A_JOBS}) | idle poll median ms (${IDLE_POLLS}) | load s |`)
  console.log("|---|---|---|---|---|---|")
  for (const row of rows) console.log(row)
}

runMain(main)
