/**
 * Renders BENCHMARKS.md from bench/results.json: the machine, how to
 * reproduce, the issue's targets (met or missed), every figure with its
 * samples and ratios to the baselines, and the hand-written analysis
 * (bench/analysis.md). Run directly (`npx tsx bench/report.ts`) to re-render
 * without measuring again.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { SURVIVES } from "./durability.js"
import type { Machine, Measurement, Mode, Section } from "./harness.js"
import { benchDirectory, projectRoot, TSX_RUNTIME } from "./paths.js"
import { targets } from "./targets.js"

/** When one section ran, and how loaded the machine was meanwhile. */
export interface SectionRun {
  readonly section: Section
  /** 1-minute load average when the section started and when it ended. */
  readonly loadAverageAtStart: number
  readonly loadAverageAtEnd: number
  readonly durationS: number
  /** The mode and date of the run that measured it, when it was kept from an earlier run (`--keep-others`). */
  readonly keptFrom?: { readonly mode: Mode["name"]; readonly date: string }
  /** How our code ran (`paths.ts`'s RUNTIME); absent in runs before it was recorded, which all ran through tsx. */
  readonly runtime?: string
}

/** Everything one run produced (bench/results.json). */
export interface Results {
  readonly mode: Mode["name"]
  readonly config: Mode
  readonly machine: Machine & { readonly loadAverageAtEnd?: number; readonly runtime?: string }
  readonly databases: {
    readonly postgres: string
    readonly postgresSettings: ReadonlyArray<string>
    readonly postgresStartOptions: ReadonlyArray<string>
    readonly sqlite: string
    readonly sqliteSettings: ReadonlyArray<string>
    /** The durability our SQLite store ran at everywhere but the durability section (read back from its connection). */
    readonly sqliteDurability?: string
  }
  readonly durationS: number
  /** Per section: the load average at its start and end (absent in results from before it was recorded). */
  readonly sections?: ReadonlyArray<SectionRun>
  readonly measurements: ReadonlyArray<Measurement>
}

const fmt = (value: number): string => {
  if (!Number.isFinite(value)) return "–"
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString("en-US")
  if (Math.abs(value) >= 10) return value.toFixed(1)
  return value.toFixed(2)
}

const ratioText = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(2)}×` : "–")

/** The baseline each of our measurements is compared with in the tables. */
const baselineOf = (m: Measurement, byId: Map<string, Measurement>): Measurement | undefined => {
  const parts = m.id.split(".")
  if (m.section === "create" && parts[3] === "ours") return byId.get([...parts.slice(0, 3), "raw"].join("."))
  // Ours without the heartbeat is set against the peer (its ratio is it ÷ the peer), everything else against ours.
  if (m.section === "lifecycle" && parts[3] === "short") return byId.get([...parts.slice(0, 3), parts[1] === "pg" ? "pgboss" : "queue"].join("."))
  if (m.section === "lifecycle" && parts[3] !== "ours") return byId.get([...parts.slice(0, 3), "ours"].join("."))
  if (m.section === "recovery" && parts[2] === "reference") return byId.get([...parts.slice(0, 2), "ours"].join("."))
  return undefined
}

const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string =>
  [
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((row) => `| ${row.join(" | ")} |`)
  ].join("\n")

const SECTIONS: ReadonlyArray<readonly [Section, string, string]> = [
  ["create", "1. Create", "Jobs stored per second by one caller, after a warm-up of every operation (not counted; a tenth as many calls for batches). Ratio: ours ÷ the raw driver doing the same INSERT (higher is better)."],
  ["lifecycle", "2. Full lifecycle", "Jobs taken through their whole life per second. Ours writes every audit event (capability decision, queued, running, completed), a run row and a heartbeat; the peers write no audit trail. Every system first runs the same number of lifecycles at each worker count, not counted (a warm-up: the JIT compiles each client's hot code during its first thousand or more lifecycles; `bench/warmupCurve.ts`). At one worker, a floor runs beside them: our own statements and commits per job sent with no JavaScript of ours (PostgreSQL: the statements the store sent for one lifecycle, captured and replayed as named statements on one plain `pg` client, fresh ids per job; SQLite: the same rows written by raw prepared better-sqlite3 statements, one transaction per step) — the most one worker of this schema can reach. Ours runs twice: with one heartbeat (the targets' figure) and without (submit → claim → complete: the cycle the engine runs for a job that ends within its heartbeat interval, and the peers' shape). Ratio: ours ÷ the peer or the floor; on the no-heartbeat row, it ÷ the peer (pg-boss on PostgreSQL, SqlPersistedQueue on SQLite); higher is better for us."],
  ["recovery", "3. Recovery", "Wall time to recover every stale run. Ratio: the per-row loop's time ÷ ours (how many times faster ours is)."],
  ["recorder", "4. Flight Recorder", "Events appended per second, and the retention purge of expired events with the latency of `record` calls made during it."],
  ["queries", "5. Queries", "Median latency of one `listJobs` call, and of one `Jobs.claimNext` with every job queued (each sample is the median of many calls; the figure is the median of the samples). Before the samples: a round of the same calls, not counted, and on PostgreSQL a CHECKPOINT after the load, so the server is not still writing the fixture back while the queries run. Both sizes are loaded first and sampled interleaved, the order alternating repetition by repetition, so a ratio compares the same process and machine state."],
  ["pickup", "6. Pickup latency", "Submit → the job's program starts, one idle worker waiting, jobs submitted one at a time after a random 20–1020 ms pause (so a 1 s poll is at a random phase). Ours (LISTEN/NOTIFY; eager dispatch, the default, and eager dispatch off) and graphile-worker are sampled interleaved, one sample of each per round, the workers idle side by side, after a warm-up of back-to-back pickups each (not counted). Milliseconds, lower is better."],
  ["durability", "7. SQLite durability", "The SQLite store's `durability` option, both values side by side in one run: creating a job one at a time against the raw driver, and one worker's full lifecycle against SqlPersistedQueue, each baseline at the same `PRAGMA synchronous`, every system first warmed up as in section 2 (not counted). Jobs per second; ratio: ours ÷ the baseline."],
  ["statements", "8. Statements and commits per job", "One job's whole life, jobs run one after another, counted — not estimated. PostgreSQL: on the server, on a cluster of this run's own started with `pg_stat_statements` (the timed sections run without it): statements are its top-level calls in the system's database (what the client sent; a foreign key check's or a trigger's queries are not counted), commits `pg_stat_database.xact_commit` (every committed transaction; a lone statement in autocommit is one, a read-only one too); each system runs a session with no jobs and one with N, and the difference ÷ N is a job's share (connecting, migrating and stopping drop out). SQLite: every statement better-sqlite3 executes (its Statement methods wrapped) while N jobs run; commits are COMMITs plus statements outside a transaction. Per job, lower is better."],
  ["memory", "9. Memory", "A worker process (`Jobs.worker`, 16 jobs at a time, a handler that does nothing) runs a queue of jobs loaded beforehand; the heap used is sampled after a full GC (`--expose-gc`) before the first job and every 1/40 of the jobs. Flat means the least-squares slope after the first tenth of the jobs, over the whole run, adds at most 10% to the heap at the first tenth. This section measures memory, not speed: its commits are not fsynced (SQLite `durability: \"normal\"`, PostgreSQL `synchronous_commit = off` for its database), so a large run finishes in minutes on a loaded disk; jobs/s here is not comparable with section 2."]
]

const dialectName = (m: Measurement): string => (m.dialect === "sqlite" ? "SQLite" : "PostgreSQL")

const extraNumber = (m: Measurement | undefined, key: string): number => Number(m?.extra?.[key])

/** Section 7: one row per durability. */
const durabilityTable = (byId: Map<string, Measurement>): Array<string> => {
  const rows = (["full", "normal"] as const).map((durability) => {
    const get = (key: string) => byId.get(`durability.sqlite.${durability}.${key}`)
    const cell = (m: Measurement | undefined) => (m === undefined ? "not measured" : `**${fmt(m.median)}**`)
    const ratio = (ours: Measurement | undefined, base: Measurement | undefined) =>
      ours === undefined || base === undefined ? "–" : ratioText(ours.median / base.median)
    return [
      `\`"${durability}"\``,
      cell(get("create.ours")),
      cell(get("create.raw")),
      ratio(get("create.ours"), get("create.raw")),
      cell(get("lifecycle.ours")),
      cell(get("lifecycle.queue")),
      ratio(get("lifecycle.ours"), get("lifecycle.queue")),
      SURVIVES[durability]
    ]
  })
  return [table(["durability", "create, ours", "create, raw better-sqlite3", "ratio", "lifecycle, ours", "lifecycle, SqlPersistedQueue", "ratio", "what a commit survives"], rows), ""]
}

/** Section 8: statements and commits per job. */
const statementsTable = (rows: ReadonlyArray<Measurement>): Array<string> => [
  table(
    ["Database", "System", "One job", "Statements", "BEGIN / COMMIT / ROLLBACK", "SAVEPOINT / RELEASE", "Other statements", "Commits", "Jobs counted"],
    rows.map((m) => [
      dialectName(m),
      m.system,
      m.name,
      `**${fmt(extraNumber(m, "statements"))}**`,
      fmt(extraNumber(m, "transaction_control")),
      fmt(extraNumber(m, "savepoints")),
      fmt(extraNumber(m, "other_statements")),
      `**${fmt(extraNumber(m, "commits"))}**`,
      String(m.params["jobs"])
    ])
  ),
  ""
]

/** Section 9: the heap of the worker process. */
const memoryTable = (rows: ReadonlyArray<Measurement>, mode: Results["mode"]): Array<string> => [
  table(
    ["Database", "Jobs", "At a time", "Heap before the first job", "after the first tenth", "middle", "end", "Slope (KiB per 10k jobs)", "Jobs/s", "Verdict"],
    rows.map((m) => [
      dialectName(m),
      `${Number(m.params["jobs"]).toLocaleString("en-US")}${Number(m.params["jobs"]) < 100_000 ? ` (${mode} size; the issue's: 100,000)` : ""}`,
      String(m.params["concurrency"]),
      `${fmt(extraNumber(m, "heap_before_the_first_job_MiB"))} MiB`,
      `${fmt(extraNumber(m, "heap_after_the_first_tenth_MiB"))} MiB`,
      `${fmt(extraNumber(m, "heap_in_the_middle_MiB"))} MiB`,
      `${fmt(extraNumber(m, "heap_at_the_end_MiB"))} MiB`,
      fmt(extraNumber(m, "slope_KiB_per_10k_jobs")),
      fmt(extraNumber(m, "jobs_per_second")),
      String(m.extra?.["verdict"] ?? "–") === "flat" ? "flat" : `**${String(m.extra?.["verdict"] ?? "–")}**`
    ])
  ),
  "",
  ...rows.flatMap((m) => [`${dialectName(m)}, every sample (MiB): ${m.samples.map(fmt).join(", ")}.`, ""])
]

/** Section 6: latency percentiles. */
const pickupTable = (rows: ReadonlyArray<Measurement>): Array<string> => [
  table(["Database", "System", "p50", "p99", "max", "Jobs"], rows.map((m) => [
    dialectName(m),
    m.name.replace(/^pickup latency p50, /, ""),
    `**${fmt(extraNumber(m, "p50"))}**`,
    `**${fmt(extraNumber(m, "p99"))}**`,
    fmt(extraNumber(m, "max")),
    String(m.params["jobs"])
  ])),
  ""
]

/** Any other section: every measurement with its samples and its ratio to its baseline, then extra figures. */
const genericTable = (rows: ReadonlyArray<Measurement>, byId: Map<string, Measurement>): Array<string> => {
  const out: Array<string> = []
  out.push(table(["Database", "Measured", "System", "Median", "Unit", "Samples", "Ratio"], rows.map((m) => {
    const base = baselineOf(m, byId)
    const ratio = base === undefined ? "" : ratioText(m.section === "lifecycle" && !m.id.endsWith(".short") ? base.median / m.median : m.median / base.median)
    return [dialectName(m), m.name, m.system, `**${fmt(m.median)}**`, m.unit, m.samples.map(fmt).join(", "), ratio]
  })), "")
  for (const m of rows.filter((r) => r.extra !== undefined)) {
    out.push(`${dialectName(m)} — ${m.name}:`, "")
    out.push(table(["", ""], Object.entries(m.extra ?? {}).map(([k, v]) => [k.replaceAll("_", " "), typeof v === "number" ? fmt(v) : v])), "")
  }
  return out
}

/** "Load average 3.1 at start, 4.2 at end; 95 s." for a section, if recorded. */
const sectionLoad = (results: Results, section: Section): string => {
  const run = results.sections?.find((r) => r.section === section)
  return run === undefined
    ? "Load average while it ran: not recorded in this run."
    : `${run.keptFrom === undefined ? "" : `Kept from the **${run.keptFrom.mode}** run of ${run.keptFrom.date} (this run did not measure it). `}Load average (1 min) while it ran: ${run.loadAverageAtStart} at start, ${run.loadAverageAtEnd} at end; it took ${run.durationS} s. Our code ran ${run.runtime ?? TSX_RUNTIME}.`
}

/** The targets table, and what it leaves out. */
const targetsSection = (results: Results): Array<string> => {
  const rows = targets(results.measurements, { mode: results.mode, sampleMs: results.config.sampleMs })
  const out: Array<string> = ["## Targets", ""]
  out.push(
    `Issue 16's goals (not test assertions), each a ratio of two figures measured side by side in this run. "Measured at" is the size this run used` +
      (results.mode === "quick" ? " — a quick run measures smaller sizes than the issue's, and says so on the row." : "."),
    ""
  )
  out.push(table(["Figure", "Case", "Measured at", "Figures", "Ratio", "Goal", "Verdict"], rows.map((t) => [
    t.figure,
    t.case,
    t.measuredAt === "" ? "—" : t.measuredAt,
    t.figures === "" ? "—" : t.figures,
    t.ratio === undefined ? "—" : ratioText(t.ratio),
    t.goal,
    t.verdict === "met" ? "met" : t.verdict === "missed" ? "**missed**" : "not measured in this run"
  ])), "")
  const byId = new Map(results.measurements.map((m) => [m.id, m]))
  const ceilings = ([["pg", "pgboss", "pg-boss"], ["sqlite", "queue", "SqlPersistedQueue"]] as const).flatMap(([dialect, peer, peerName]) => {
    const floor = byId.get(`lifecycle.${dialect}.w1.floor`)
    const base = byId.get(`lifecycle.${dialect}.w1.${peer}`)
    return floor === undefined || base === undefined ? [] : [`${dialectName(floor)} ${ratioText(floor.median / base.median)} ${peerName}`]
  })
  if (ceilings.length > 0) {
    out.push(
      `The most one worker can reach with our statements through the same drivers, measured in the same run (section 2: the ` +
        `store's statements and commits sent with no JavaScript of ours, ÷ the peer): ${ceilings.join("; ")}. No change to our ` +
        `JavaScript can take a one-worker ratio past that; past it needs different statements (less database work per job, or ` +
        `fewer columns returned for the driver to parse) or a leaner driver.`,
      ""
    )
  }
  const memory = (["sqlite", "pg"] as const).map((d) => byId.get(`memory.${d}.worker`)).filter((m) => m !== undefined)
  out.push(
    "Also required by the issue: a worker process running 16 jobs at a time keeps a flat heap — " +
      (memory.length === 0
        ? "not measured in this run."
        : memory.map((m) => `${dialectName(m)}: ${String(m.extra?.["verdict"] ?? "–")} over ${Number(m.params["jobs"]).toLocaleString("en-US")} jobs`).join("; ") + " (section 9)."),
    "",
    "Why a missed target is missed, and what would close it, is in the analysis at the end.",
    ""
  )
  return out
}

/** The whole BENCHMARKS.md. */
export const renderReport = (results: Results, analysis: string): string => {
  const byId = new Map(results.measurements.map((m) => [m.id, m]))
  const { machine, databases, config } = results
  const durability = databases.sqliteDurability ?? "not recorded"
  const out: Array<string> = []
  out.push("# Benchmarks", "")
  out.push(
    "Generated by `npm run bench` (bench/main.ts) from bench/results.json — do not edit by hand; the analysis at the end",
    "comes from bench/analysis.md.",
    ""
  )
  const kept = (results.sections ?? []).filter((run) => run.keptFrom !== undefined)
  out.push(`Run: **${results.mode}** mode, ${machine.date}, took ${Math.round(results.durationS / 60)} min (${results.durationS} s).`, "")
  if (kept.length > 0) {
    out.push(`Sections kept from an earlier run (\`--keep-others\`), each marked under its heading: ${kept.map((run) => `${run.section} (${run.keptFrom!.mode}, ${run.keptFrom!.date})`).join(", ")}.`, "")
  }
  out.push("## Machine", "")
  out.push(table(["", ""], [
    ["CPU", `${machine.cpu} (${machine.cores} cores)`],
    ["Memory", `${machine.memoryGiB} GiB`],
    ["OS", machine.os],
    ["Load average (1 min)", `${machine.loadAverage} at start, ${machine.loadAverageAtEnd ?? "?"} at end (each section's is under its heading) — anything well above 0 means other work shared the ${machine.cores} cores`],
    ["Node.js", machine.node],
    ["Our code", `${machine.runtime ?? TSX_RUNTIME} (sections kept from an earlier run say how they ran under their heading)`],
    ["PostgreSQL", `${databases.postgres} — throwaway local cluster on 127.0.0.1, started with ${databases.postgresStartOptions.map((s) => `\`${s}\``).join(", ")}; durability left on: ${databases.postgresSettings.map((s) => `\`${s}\``).join(", ")}`],
    ["SQLite", `${databases.sqlite} (better-sqlite3), files on local disk, ${databases.sqliteSettings.map((s) => `\`${s}\``).join(", ")} as read back from our store's connection: durability **\`"${durability}"\`** (the store's default) in every section but 7, which measures both; the raw driver and SqlPersistedQueue are set to the same \`PRAGMA synchronous\``],
    ["Peers", "pg-boss 10.4 (`schedule: false`, otherwise defaults), @effect/sql 0.52 SqlPersistedQueue (poll interval 5 ms instead of 1 s), graphile-worker 0.16 (defaults; pickup latency only)"],
    ["Pools", "every PostgreSQL client (ours, pg-boss, SqlPersistedQueue) uses node-postgres's default pool of 10 connections"]
  ]), "")
  out.push("## How to reproduce", "")
  out.push(
    "```sh",
    "npm run bench              # full run (writes BENCHMARKS.md and bench/results.json)",
    "npm run bench -- --quick   # smoke run: the same code paths at smaller sizes",
    "npm run bench -- --only=recovery,queries   # a subset (add --keep-others to keep the other sections' figures)",
    "npx tsx bench/report.ts    # re-render BENCHMARKS.md from bench/results.json",
    "npx tsx bench/main.ts      # the same run through tsx, uncompiled (slower: see \"Our code\" above)",
    "```",
    "",
    "It needs the PostgreSQL server binaries (`initdb`, `pg_ctl`; found on PATH or in /usr/lib/postgresql/*/bin) and",
    "starts its own throwaway clusters (as the `postgres` user when run as root), removed at the end. Fixtures are",
    "generated set-based inside the database (`generate_series` / a recursive CTE), not through the API.",
    "",
    `Sizes of this run: ${config.reps} repetitions of every figure (median reported; ${config.recoveryReps} for recovery), throughput samples of ${config.sampleMs / 1000} s${config.warmupLifecycles === undefined ? "" : ` after a warm-up of ${config.warmupLifecycles.toLocaleString("en-US")} lifecycles per system and worker count`}, ` +
      `batches of ${config.batch}, recovery of ${config.recoveryStale.toLocaleString("en-US")} stale among ${config.recoveryTotal.toLocaleString("en-US")} runs, ` +
      `purge of ${config.purgeEvents.toLocaleString("en-US")} events (one repetition: each needs a fresh load), queries and claims at ${config.querySizes.map((s) => s.toLocaleString("en-US")).join(" and ")} jobs ` +
      `(${config.queryCalls} calls per sample), ${config.pickupSamples} pickups per system, statements counted over ${config.statementJobs ?? "?"} jobs per system, ` +
      `memory over ${(config.memoryJobs ?? Number.NaN).toLocaleString("en-US")} jobs.`,
    ""
  )
  out.push(...targetsSection(results))
  for (const [section, title, description] of SECTIONS) {
    const rows = results.measurements.filter((m) => m.section === section)
    if (rows.length === 0) continue
    out.push(`## ${title}`, "", description, "", sectionLoad(results, section), "")
    if (section === "pickup") out.push(...pickupTable(rows))
    else if (section === "durability") out.push(...durabilityTable(byId))
    else if (section === "statements") out.push(...statementsTable(rows))
    else if (section === "memory") out.push(...memoryTable(rows, results.mode))
    else out.push(...genericTable(rows, byId))
  }
  if (analysis.trim() !== "") out.push(analysis.trim(), "")
  return out.join("\n")
}

// Direct run: re-render from the stored results.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const results = JSON.parse(fs.readFileSync(path.join(benchDirectory, "results.json"), "utf8")) as Results
  const analysisFile = path.join(benchDirectory, "analysis.md")
  const analysis = fs.existsSync(analysisFile) ? fs.readFileSync(analysisFile, "utf8") : ""
  fs.writeFileSync(path.join(projectRoot, "BENCHMARKS.md"), renderReport(results, analysis))
}
