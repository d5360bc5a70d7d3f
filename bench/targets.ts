/**
 * Issue 16's targets, evaluated on the measurements of one run: each row
 * names the measurements it divides, the size they were measured at, the
 * ratio, the goal and the verdict. A row whose measurements are absent says
 * so ("not measured in this run"); nothing is filled in.
 *
 * Measurement ids read (other sections' owners keep them stable):
 *   lifecycle.{pg|sqlite}.w{1|4|16}.{ours|pgboss|queue}, lifecycle.{pg|sqlite}.w1.floor (report.ts)
 *   create.{sqlite|pg}.{one|batch}.{ours|raw}
 *   recovery.{pg|sqlite}.{ours|reference}
 *   pickup.pg.{ours|graphile}                        (median = p50)
 *   queries.{pg|sqlite}.{state|state_next|trace|claim}.{jobs}
 */
import type { Measurement } from "./harness.js"

/** One target row, evaluated. */
export interface TargetRow {
  /** The figure, in the issue's words. */
  readonly figure: string
  /** Which case: dialect, workers, one at a time or batched, ... */
  readonly case: string
  /** The size it was measured at, or "" when not measured. */
  readonly measuredAt: string
  /** The two figures divided, e.g. "71.5 vs 354 jobs/s", or "" when not measured. */
  readonly figures: string
  readonly ratio: number | undefined
  readonly goal: string
  readonly verdict: "met" | "missed" | "not measured in this run"
  /** The measurement ids divided: numerator, denominator. */
  readonly ids: readonly [string, string]
}

/** How a run was sized, as far as the targets need it. */
export interface RunSizes {
  readonly mode: "quick" | "full"
  readonly sampleMs: number
}

const n = (value: number): string => value.toLocaleString("en-US")

const fmt = (value: number): string => {
  if (!Number.isFinite(value)) return "–"
  if (Math.abs(value) >= 100) return n(Math.round(value))
  if (Math.abs(value) >= 10) return value.toFixed(1)
  return value.toFixed(2)
}

const DIALECT = { pg: "PostgreSQL", sqlite: "SQLite" } as const

interface Spec {
  readonly figure: string
  readonly case: string
  /** Numerator and denominator ids; the ratio is numerator ÷ denominator of their medians. */
  readonly ids: readonly [string, string]
  readonly goal: string
  readonly met: (ratio: number) => boolean
  readonly measuredAt: (numerator: Measurement, denominator: Measurement) => string
}

const samplesOf = (m: Measurement, sizes: RunSizes) =>
  `${m.samples.length} sample${m.samples.length === 1 ? "" : "s"} of ${sizes.sampleMs / 1000} s`

/** "(the issue's size: …)" when this run measured at a smaller size. */
const smallerThan = (measured: number, target: number, what: string) =>
  measured < target ? ` (quick size; the issue's: ${what})` : ""

/** The issue's table, row by row. */
const specs = (measurements: ReadonlyArray<Measurement>, sizes: RunSizes): Array<Spec> => {
  const out: Array<Spec> = []
  for (const [workers, goal] of [[1, 1], [4, 1], [16, 1.5]] as const) {
    out.push({
      figure: "lifecycle with every audit event vs pg-boss, equal concurrency",
      case: `PostgreSQL, ${workers} worker${workers === 1 ? "" : "s"}`,
      ids: [`lifecycle.pg.w${workers}.ours`, `lifecycle.pg.w${workers}.pgboss`],
      goal: `≥ ${goal.toFixed(2)}×`,
      met: (r) => r >= goal,
      measuredAt: (m) => samplesOf(m, sizes)
    })
  }
  for (const workers of [1, 4]) {
    out.push({
      figure: "lifecycle with every audit event vs SqlPersistedQueue",
      case: `SQLite, ${workers} worker${workers === 1 ? "" : "s"}`,
      ids: [`lifecycle.sqlite.w${workers}.ours`, `lifecycle.sqlite.w${workers}.queue`],
      goal: "≥ 1.00×",
      met: (r) => r >= 1,
      measuredAt: (m) => samplesOf(m, sizes)
    })
  }
  for (const dialect of ["sqlite", "pg"] as const) {
    for (const [kind, label] of [["one", "one at a time"], ["batch", "batched"]] as const) {
      out.push({
        figure: "create vs the raw driver",
        case: `${DIALECT[dialect]}, ${label}`,
        ids: [`create.${dialect}.${kind}.ours`, `create.${dialect}.${kind}.raw`],
        goal: "≥ 0.80×",
        met: (r) => r >= 0.8,
        measuredAt: (m) => `${m.params["batch"] === undefined ? "" : `batches of ${String(m.params["batch"])}, `}${samplesOf(m, sizes)}`
      })
    }
  }
  for (const [dialect, goal] of [["pg", 20], ["sqlite", 3]] as const) {
    out.push({
      figure: "recovery of 10k stale among 100k vs the per-row loop (its time ÷ ours)",
      case: DIALECT[dialect],
      ids: [`recovery.${dialect}.reference`, `recovery.${dialect}.ours`],
      goal: `≥ ${goal}×`,
      met: (r) => r >= goal,
      measuredAt: (m) => {
        const stale = Number(m.params["stale"])
        const runs = Number(m.params["runs"])
        return `${n(stale)} stale of ${n(runs)} runs${smallerThan(runs, 100_000, "10,000 of 100,000")}`
      }
    })
  }
  out.push({
    figure: "pickup latency with an idle worker, p50 (ours ÷ graphile-worker's)",
    case: "PostgreSQL, LISTEN/NOTIFY, eager dispatch (the default; off: section 6)",
    ids: ["pickup.pg.ours", "pickup.pg.graphile"],
    goal: "≤ 1.00×",
    met: (r) => r <= 1,
    measuredAt: (m, base) => `${String(m.params["jobs"])} and ${String(base.params["jobs"])} jobs`
  })
  for (const dialect of ["pg", "sqlite"] as const) {
    for (const [key, label] of [
      ["state", "list by state, first page"],
      ["state_next", "list by state, next page"],
      ["trace", "list by trace_id"],
      ["claim", "claim (Jobs.claimNext), all jobs queued"]
    ] as const) {
      const sizesMeasured = measurements
        .filter((m) => m.id.startsWith(`queries.${dialect}.${key}.`))
        .map((m) => Number(m.params["jobs"]))
        .filter(Number.isFinite)
      const small = sizesMeasured.length === 0 ? 10_000 : Math.min(...sizesMeasured)
      const large = sizesMeasured.length === 0 ? 1_000_000 : Math.max(...sizesMeasured)
      out.push({
        figure: "queries at 1M jobs / 1M queued claims vs at 10k (cost ratio)",
        case: `${DIALECT[dialect]}, ${label}`,
        ids: [`queries.${dialect}.${key}.${large}`, `queries.${dialect}.${key}.${small}`],
        goal: "≤ 2.00×",
        met: (r) => r <= 2,
        measuredAt: () => `${n(large)} vs ${n(small)} jobs${smallerThan(large, 1_000_000, "1,000,000 vs 10,000")}`
      })
    }
  }
  return out
}

/** Every target of issue 16, evaluated on `measurements`. */
export const targets = (measurements: ReadonlyArray<Measurement>, sizes: RunSizes): Array<TargetRow> => {
  const byId = new Map(measurements.map((m) => [m.id, m]))
  return specs(measurements, sizes).map((spec) => {
    const numerator = byId.get(spec.ids[0])
    const denominator = byId.get(spec.ids[1])
    const ratio = numerator === undefined || denominator === undefined ? Number.NaN : numerator.median / denominator.median
    if (numerator === undefined || denominator === undefined || !Number.isFinite(ratio)) {
      return { figure: spec.figure, case: spec.case, measuredAt: "", figures: "", ratio: undefined, goal: spec.goal, verdict: "not measured in this run", ids: spec.ids }
    }
    return {
      figure: spec.figure,
      case: spec.case,
      measuredAt: spec.measuredAt(numerator, denominator),
      figures: `${fmt(numerator.median)} vs ${fmt(denominator.median)} ${numerator.unit}`,
      ratio,
      goal: spec.goal,
      verdict: spec.met(ratio) ? "met" : "missed",
      ids: spec.ids
    }
  })
}
