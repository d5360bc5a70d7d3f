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
import type { Machine, Measurement, Mode } from "./harness.js"

/** Everything one run produced (bench/results.json). */
export interface Results {
  readonly mode: Mode["name"]
  readonly config: Mode
  readonly machine: Machine & { readonly loadAverageAtEnd?: number }
  readonly databases: {
    readonly postgres: string
    readonly postgresSettings: ReadonlyArray<string>
    readonly postgresStartOptions: ReadonlyArray<string>
    readonly sqlite: string
    readonly sqliteSettings: ReadonlyArray<string>
  }
  readonly durationS: number
  readonly measurements: ReadonlyArray<Measurement>
}

/** One of the issue's targets, evaluated. */
interface TargetRow {
  readonly target: string
  readonly what: string
  readonly ratio: number
  readonly goal: string
  readonly met: boolean
}

const fmt = (value: number): string => {
  if (!Number.isFinite(value)) return "–"
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString("en-US")
  if (Math.abs(value) >= 10) return value.toFixed(1)
  return value.toFixed(2)
}

const ratioText = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(2)}×` : "–")

/** Evaluates the issue's four targets on the measurements present. */
export const targets = (results: Results): Array<TargetRow> => {
  const byId = new Map(results.measurements.map((m) => [m.id, m]))
  const get = (id: string) => byId.get(id)?.median ?? Number.NaN
  const rows: Array<TargetRow> = []
  for (const dialect of ["sqlite", "pg"] as const) {
    const name = dialect === "sqlite" ? "SQLite" : "PostgreSQL"
    for (const [kind, label] of [["one", "one at a time"], ["batch", "batched"]] as const) {
      const ratio = get(`create.${dialect}.${kind}.ours`) / get(`create.${dialect}.${kind}.raw`)
      if (Number.isFinite(ratio)) {
        rows.push({ target: "create ≥ 50% of raw driver", what: `${name}, ${label}`, ratio, goal: "≥ 0.50×", met: ratio >= 0.5 })
      }
    }
  }
  for (const workers of results.config.workers) {
    const ratio = get(`lifecycle.pg.w${workers}.ours`) / get(`lifecycle.pg.w${workers}.pgboss`)
    if (Number.isFinite(ratio)) {
      rows.push({ target: "lifecycle ≥ 1× pg-boss (with full audit trail)", what: `PostgreSQL, ${workers} worker${workers === 1 ? "" : "s"}`, ratio, goal: "≥ 1.00×", met: ratio >= 1 })
    }
  }
  for (const dialect of ["sqlite", "pg"] as const) {
    const ratio = get(`recovery.${dialect}.reference`) / get(`recovery.${dialect}.ours`)
    if (Number.isFinite(ratio)) {
      rows.push({ target: "recovery ≥ 20× the per-row loop", what: dialect === "sqlite" ? "SQLite" : "PostgreSQL", ratio, goal: "≥ 20×", met: ratio >= 20 })
    }
  }
  const [small, large] = [results.config.querySizes[0], results.config.querySizes[results.config.querySizes.length - 1]]
  for (const dialect of ["sqlite", "pg"] as const) {
    for (const key of ["state", "state_next", "trace"]) {
      const ratio = get(`queries.${dialect}.${key}.${large}`) / get(`queries.${dialect}.${key}.${small}`)
      const name = byId.get(`queries.${dialect}.${key}.${large}`)?.name ?? key
      if (Number.isFinite(ratio)) {
        rows.push({
          target: `query at ${(large ?? 0).toLocaleString("en-US")} ≤ 2× at ${(small ?? 0).toLocaleString("en-US")} jobs`,
          what: `${dialect === "sqlite" ? "SQLite" : "PostgreSQL"}, ${name}`,
          ratio,
          goal: "≤ 2.00×",
          met: ratio <= 2
        })
      }
    }
  }
  return rows
}

/** The baseline each of our measurements is compared with in the tables. */
const baselineOf = (m: Measurement, byId: Map<string, Measurement>): Measurement | undefined => {
  const parts = m.id.split(".")
  if (m.section === "create" && parts[3] === "ours") return byId.get([...parts.slice(0, 3), "raw"].join("."))
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

const SECTIONS: ReadonlyArray<readonly [Measurement["section"], string, string]> = [
  ["create", "1. Create", "Jobs stored per second by one caller. Ratio: ours ÷ the raw driver doing the same INSERT (higher is better)."],
  ["lifecycle", "2. Full lifecycle", "Jobs taken through their whole life per second. Ours writes every audit event (capability decision, queued, running, completed), a run row and a heartbeat; the peers write no audit trail. Ratio: ours ÷ the peer (higher is better for us)."],
  ["recovery", "3. Recovery", "Wall time to recover every stale run. Ratio: the per-row loop's time ÷ ours (how many times faster ours is)."],
  ["recorder", "4. Flight Recorder", "Events appended per second, and the retention purge of expired events with the latency of `record` calls made during it."],
  ["queries", "5. Queries", "Median latency of one `listJobs` call (each sample is the median of many calls; the figure is the median of the samples)."],
  ["pickup", "6. Pickup latency", "Submit → the job's program starts, one idle worker waiting, jobs submitted one at a time after a random 20–1020 ms pause (so a 1 s poll is at a random phase). Milliseconds, lower is better."]
]

/** The whole BENCHMARKS.md. */
export const renderReport = (results: Results, analysis: string): string => {
  const byId = new Map(results.measurements.map((m) => [m.id, m]))
  const { machine, databases, config } = results
  const out: Array<string> = []
  out.push("# Benchmarks", "")
  out.push(
    "Generated by `npm run bench` (bench/main.ts) from bench/results.json — do not edit by hand; the analysis at the end",
    "comes from bench/analysis.md.",
    ""
  )
  out.push(`Run: **${results.mode}** mode, ${machine.date}, took ${Math.round(results.durationS / 60)} min (${results.durationS} s).`, "")
  out.push("## Machine", "")
  out.push(table(["", ""], [
    ["CPU", `${machine.cpu} (${machine.cores} cores)`],
    ["Memory", `${machine.memoryGiB} GiB`],
    ["OS", machine.os],
    ["Load average (1 min)", `${machine.loadAverage} at start, ${machine.loadAverageAtEnd ?? "?"} at end — anything well above 0 means other work shared the ${machine.cores} cores`],
    ["Node.js", machine.node],
    ["PostgreSQL", `${databases.postgres} — throwaway local cluster on 127.0.0.1, started with ${databases.postgresStartOptions.map((s) => `\`${s}\``).join(", ")}; durability left on: ${databases.postgresSettings.map((s) => `\`${s}\``).join(", ")}`],
    ["SQLite", `${databases.sqlite} (better-sqlite3), files on local disk, ${databases.sqliteSettings.map((s) => `\`${s}\``).join(", ")}`],
    ["Peers", "pg-boss 10.4 (`schedule: false`, otherwise defaults), @effect/sql 0.52 SqlPersistedQueue (poll interval 5 ms instead of 1 s), graphile-worker 0.16 (defaults; pickup latency only)"],
    ["Pools", "every PostgreSQL client (ours, pg-boss, SqlPersistedQueue) uses node-postgres's default pool of 10 connections"]
  ]), "")
  out.push("## How to reproduce", "")
  out.push(
    "```sh",
    "npm run bench              # full run (writes BENCHMARKS.md and bench/results.json)",
    "npm run bench -- --quick   # smoke run, smaller sizes, < 3 minutes",
    "npm run bench -- --only=recovery,queries   # a subset",
    "npx tsx bench/report.ts    # re-render BENCHMARKS.md from bench/results.json",
    "```",
    "",
    "It needs the PostgreSQL server binaries (`initdb`, `pg_ctl`; found on PATH or in /usr/lib/postgresql/*/bin) and",
    "starts its own throwaway cluster (as the `postgres` user when run as root), removed at the end. Fixtures are",
    "generated set-based inside the database (`generate_series` / a recursive CTE), not through the API.",
    "",
    `Sizes of this run: ${config.reps} repetitions of every figure (median reported; ${config.recoveryReps} for recovery), throughput samples of ${config.sampleMs / 1000} s, ` +
      `batches of ${config.batch}, recovery of ${config.recoveryStale.toLocaleString("en-US")} stale among ${config.recoveryTotal.toLocaleString("en-US")} runs, ` +
      `purge of ${config.purgeEvents.toLocaleString("en-US")} events (one repetition: each needs a fresh load), queries at ${config.querySizes.map((s) => s.toLocaleString("en-US")).join(" and ")} jobs ` +
      `(${config.queryCalls} calls per sample).`,
    ""
  )
  out.push("## Targets", "")
  out.push("Goals from the issue (not test assertions).", "")
  out.push(table(["Target", "Measured on", "Ratio", "Goal", ""], targets(results).map((t) => [
    t.target, t.what, ratioText(t.ratio), t.goal, t.met ? "met" : "**missed**"
  ])), "")
  for (const [section, title, description] of SECTIONS) {
    const rows = results.measurements.filter((m) => m.section === section)
    if (rows.length === 0) continue
    out.push(`## ${title}`, "", description, "")
    if (section === "pickup") {
      out.push(table(["Database", "System", "p50", "p99", "max", "Jobs"], rows.map((m) => [
        m.dialect === "sqlite" ? "SQLite" : "PostgreSQL",
        m.name.replace(/^pickup latency p50, /, ""),
        `**${fmt(Number(m.extra?.["p50"]))}**`,
        `**${fmt(Number(m.extra?.["p99"]))}**`,
        fmt(Number(m.extra?.["max"])),
        String(m.params["jobs"])
      ])), "")
      continue
    }
    out.push(table(["Database", "Measured", "System", "Median", "Unit", "Samples", "Ratio"], rows.map((m) => {
      const base = baselineOf(m, byId)
      const ratio = base === undefined ? "" : ratioText(m.section === "lifecycle" ? base.median / m.median : m.section === "recovery" ? m.median / base.median : m.median / base.median)
      return [
        m.dialect === "sqlite" ? "SQLite" : "PostgreSQL",
        m.name,
        m.system,
        `**${fmt(m.median)}**`,
        m.unit,
        m.samples.map(fmt).join(", "),
        ratio
      ]
    })), "")
    const extras = rows.filter((m) => m.extra !== undefined)
    for (const m of extras) {
      out.push(`${m.dialect === "sqlite" ? "SQLite" : "PostgreSQL"} — ${m.name}:`, "")
      out.push(table(["", ""], Object.entries(m.extra ?? {}).map(([k, v]) => [k.replaceAll("_", " "), typeof v === "number" ? fmt(v) : v])), "")
    }
  }
  if (analysis.trim() !== "") out.push(analysis.trim(), "")
  return out.join("\n")
}

// Direct run: re-render from the stored results.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const here = path.dirname(fileURLToPath(import.meta.url))
  const results = JSON.parse(fs.readFileSync(path.join(here, "results.json"), "utf8")) as Results
  const analysisFile = path.join(here, "analysis.md")
  const analysis = fs.existsSync(analysisFile) ? fs.readFileSync(analysisFile, "utf8") : ""
  fs.writeFileSync(path.join(here, "..", "BENCHMARKS.md"), renderReport(results, analysis))
}
