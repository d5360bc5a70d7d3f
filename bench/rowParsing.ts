/**
 * What the rows of a PostgreSQL lifecycle cost the client (issue 16, h55),
 * for a base tree and this tree side by side in one process:
 *
 *   npx tsx bench/rowParsing.ts <base checkout> [jobs] [rounds]
 *
 * 1. **Counts, exact.** `jobs` lifecycles one at a time through each tree's
 *    Jobs and store (submit → claim → heartbeat → complete, every audit
 *    event), with pg's `Result.parseRow` wrapped: per step, the rows the
 *    driver parses, their columns, and the non-null values by type — each
 *    `timestamptz` a postgres-date call (or the store's own parser), each
 *    `jsonb` a `JSON.parse`. Also the columns each step's row has beyond what
 *    the port's result needs. Counts do not depend on the load.
 * 2. **The price per row.** The rows step 1 saw (their raw text, as the
 *    server sent it), parsed as pg parses them — with pg's global parsers
 *    (base) and with the store pool's (`storeTypes`, this tree) — and decoded
 *    by each tree's own `decode.aiJob` / `decode.run`: ns of CPU per row, medians
 *    of `rounds` interleaved rounds (the order rotating), and per lifecycle.
 *    Times depend on the load: the load average is printed.
 *
 * Not part of `npm run bench`.
 */
import * as os from "node:os"
import * as path from "node:path"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Pg from "pg"
import { startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"
import { cpuMicros, LIFECYCLE_STEPS, type LifecycleStep, lifecyclesOneAtATime, loadTree, median, type Tree } from "./trees.js"

/** pg's `Result` internals the wrapper reads. */
interface Field {
  readonly name: string
  readonly dataTypeID: number
}
interface ResultLike {
  readonly fields: ReadonlyArray<Field>
  parseRow(rowData: ReadonlyArray<string | null>): Record<string, unknown>
}

const TYPE_NAMES: Record<number, string> = {
  16: "bool",
  20: "int8",
  21: "int2",
  23: "int4",
  25: "text",
  114: "json",
  1184: "timestamptz",
  2950: "uuid",
  3802: "jsonb"
}
const typeName = (oid: number): string => TYPE_NAMES[oid] ?? `oid ${oid}`

/** What one step's rows were, summed over its calls. */
interface Tally {
  calls: number
  rows: number
  columns: number
  values: Map<string, number>
  /** `Date#toISOString` calls (what `DateTime.formatIso` runs), by anyone: the store's parameters and records, the Jobs layer's. */
  isoTexts: number
  /** The first row of each shape (by its column list), raw, with its fields. */
  samples: Map<string, { readonly fields: ReadonlyArray<Field>; readonly raw: ReadonlyArray<string | null> }>
}
const emptyTally = (): Tally => ({ calls: 0, rows: 0, columns: 0, values: new Map(), isoTexts: 0, samples: new Map() })

let current: Tally | undefined

/** Wraps pg's `Result.parseRow` (one class for every tree: both load the same `pg`) to tally into `current`. */
const wrapParseRow = (): void => {
  const require = createRequire(import.meta.url)
  const Result = require(path.join(path.dirname(require.resolve("pg")), "result.js")) as { prototype: ResultLike }
  const parseRow = Result.prototype.parseRow
  Result.prototype.parseRow = function(this: ResultLike, rowData) {
    const tally = current
    if (tally !== undefined) {
      tally.rows++
      tally.columns += rowData.length
      for (let i = 0; i < rowData.length; i++) {
        if (rowData[i] === null) continue
        const name = typeName(this.fields[i]!.dataTypeID)
        tally.values.set(name, (tally.values.get(name) ?? 0) + 1)
      }
      const shape = this.fields.map((field) => field.name).join(",")
      if (!tally.samples.has(shape)) tally.samples.set(shape, { fields: [...this.fields], raw: [...rowData] })
    }
    return parseRow.call(this, rowData)
  }
}

/** Wraps `Date#toISOString` to count into `current`. */
const wrapIsoText = (): void => {
  const toISOString = Date.prototype.toISOString
  Date.prototype.toISOString = function(this: Date) {
    if (current !== undefined) current.isoTexts++
    return toISOString.call(this)
  }
}

/** A tree's row decoders (src/store/pg/rows.ts). */
interface Decoders {
  readonly aiJob: (row: unknown) => Effect.Effect<unknown, unknown>
  readonly run: (row: unknown) => Effect.Effect<unknown, unknown>
}
const loadDecoders = async (root: string): Promise<Decoders> =>
  ((await import(path.join(root, "src/store/pg/rows.ts"))) as { decode: Decoders }).decode

/** A type-parser source, as pg's `Result` asks one. */
type Types = { readonly getTypeParser: (oid: number, format: "text") => (text: string) => unknown }
/** The store pool's parsers in this tree, or pg's global ones where the tree has none (the base). */
const loadTypes = async (root: string): Promise<Types> => {
  try {
    return ((await import(path.join(root, "src/store/pg/timestamptz.ts"))) as { storeTypes: Types }).storeTypes
  } catch {
    return Pg.types as unknown as Types
  }
}

/** `rowData` parsed as `Result.parseRow` does, with `types`' parsers (looked up once, as a described statement keeps them). */
const parserOf = (fields: ReadonlyArray<Field>, types: Types) => {
  const parsers = fields.map((field) => types.getTypeParser(field.dataTypeID, "text"))
  const empty: Record<string, null> = Object.create(null)
  for (const field of fields) empty[field.name] = null
  const prebuilt = { ...empty }
  return (rowData: ReadonlyArray<string | null>): Record<string, unknown> => {
    const row: Record<string, unknown> = { ...prebuilt }
    for (let i = 0; i < rowData.length; i++) {
      const raw = rowData[i] ?? null
      row[fields[i]!.name] = raw === null ? null : parsers[i]!(raw)
    }
    return row
  }
}

/** Which decoder a sample row takes: a job row (it has `job_kind`), a run row, or none (ids only). */
const decoderOf = (fields: ReadonlyArray<Field>, decoders: Decoders) => {
  const names = new Set(fields.map((field) => field.name))
  if (names.has("job_kind") && names.has("is_pinned")) return decoders.aiJob
  if (names.has("last_heartbeat")) return decoders.run
  return undefined
}

/** How many versions of each sample row the price is taken over. */
const VARIANTS = Array.from({ length: 64 })

/** PostgreSQL's ISO text of an instant in a UTC session (fraction without trailing zeros, none when zero). */
const isoText = (ms: number): string => {
  const [date, time] = new Date(ms).toISOString().split("T") as [string, string]
  const [clock, fraction] = time.slice(0, -1).split(".") as [string, string]
  const kept = fraction.replace(/0+$/, "")
  return `${date} ${clock}${kept === "" ? "" : `.${kept}`}+00`
}

/** `raw` with every `timestamptz` moved by `i` × 7 ms: equal instants within the row stay equal, rows differ. */
const shifted = (fields: ReadonlyArray<Field>, raw: ReadonlyArray<string | null>, i: number): ReadonlyArray<string | null> =>
  raw.map((text, column) =>
    text === null || fields[column]!.dataTypeID !== 1184 ? text : isoText((Pg.types.getTypeParser(1184, "text")(text) as Date).getTime() + i * 7)
  )

/** ns of this process's CPU (user + system, not wall: preemption on a shared machine is not counted) per call of `f`, over at least `minMs` of CPU. */
const nsPer = (f: () => void, minMs = 60): number => {
  let n = 0
  const start = cpuMicros()
  let used = 0
  while (used < minMs * 1000) {
    for (let i = 0; i < 200; i++) f()
    n += 200
    used = cpuMicros() - start
  }
  return used * 1000 / n
}

const main = async () => {
  const [baseRoot, jobsArg, roundsArg] = process.argv.slice(2)
  if (baseRoot === undefined) throw new Error("usage: rowParsing.ts <base checkout> [jobs] [rounds]")
  const jobs = Number(jobsArg ?? 200)
  const rounds = Number(roundsArg ?? 7)
  const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
  const roots = { base: path.resolve(baseRoot), mine: here }
  const trees: Array<Tree> = [await loadTree("base", roots.base), await loadTree("mine", roots.mine)]
  wrapParseRow()
  wrapIsoText()
  const tallies = new Map<string, Record<LifecycleStep, Tally>>()
  const loads = [os.loadavg().map((l) => l.toFixed(2)).join(" ")]
  const cluster = await startBenchCluster()
  try {
    for (const tree of trees) {
      const runtime = ManagedRuntime.make(tree.app.servicesLayer({ dialect: "pg", url: await cluster.createDatabase(`rows_${tree.name}`) }))
      const byStep = Object.fromEntries(LIFECYCLE_STEPS.map((step) => [step, emptyTally()])) as Record<LifecycleStep, Tally>
      // Warm-up (the claim memo's first subject, the statements' first Describe), not counted.
      await runtime.runPromise(lifecyclesOneAtATime(tree, 20, (_, effect) => effect))
      const exit = await runtime.runPromiseExit(lifecyclesOneAtATime(tree, jobs, (step, effect) =>
        Effect.suspend(() => {
          current = byStep[step]
          byStep[step].calls++
          return effect
        }).pipe(Effect.ensuring(Effect.sync(() => {
          current = undefined
        })))))
      if (Exit.isFailure(exit)) throw new Error(`${tree.name}: ${String(exit.cause)}`)
      tallies.set(tree.name, byStep)
      await runtime.dispose()
    }
  } finally {
    await cluster.stop()
  }

  console.log(`\n## Rows the driver parses per step (${jobs} lifecycles one at a time per tree; exact)`)
  console.log("| step | tree | rows/call | columns/call | non-null values/call by type | toISOString/call |")
  console.log("|---|---|---|---|---|---|")
  for (const step of LIFECYCLE_STEPS) {
    for (const tree of trees) {
      const t = tallies.get(tree.name)![step]
      const values = [...t.values].sort(([a], [b]) => a.localeCompare(b)).map(([name, n]) => `${name} ${(n / t.calls).toFixed(2)}`).join(", ")
      console.log(`| ${step} | ${tree.name} | ${(t.rows / t.calls).toFixed(2)} | ${(t.columns / t.calls).toFixed(2)} | ${values} | ${(t.isoTexts / t.calls).toFixed(2)} |`)
    }
  }
  for (const tree of trees) {
    const all = LIFECYCLE_STEPS.map((step) => tallies.get(tree.name)![step])
    const sum = (pick: (t: Tally) => number) => all.reduce((s, t) => s + pick(t) / t.calls, 0)
    console.log(`${tree.name}, per lifecycle: ${sum((t) => t.rows).toFixed(2)} rows, ${sum((t) => t.columns).toFixed(2)} columns, ` +
      `${sum((t) => t.values.get("timestamptz") ?? 0).toFixed(2)} timestamptz, ${sum((t) => t.values.get("jsonb") ?? 0).toFixed(2)} jsonb, ${sum((t) => t.isoTexts).toFixed(2)} toISOString`)
  }

  // The price: each tree's own sample rows (the same columns in both today), parsed and decoded by that tree.
  const decoders = { base: await loadDecoders(roots.base), mine: await loadDecoders(roots.mine) }
  const types = { base: await loadTypes(roots.base), mine: await loadTypes(roots.mine) }
  const pieces: Array<{ readonly label: string; readonly step: LifecycleStep; readonly perCall: number; readonly tree: "base" | "mine"; readonly run: () => void }> = []
  for (const name of ["base", "mine"] as const) {
    const byStep = tallies.get(name)!
    for (const step of LIFECYCLE_STEPS) {
      const tally = byStep[step]
      for (const [shape, sample] of tally.samples) {
        const decode = decoderOf(sample.fields, decoders[name])
        if (decode === undefined) continue
        const parse = parserOf(sample.fields, types[name])
        const perCall = tally.rows / tally.calls // one row shape per step in a lifecycle
        // Rows of distinct instants, as one job after another gives them (no decoder memo across rows).
        const raws = VARIANTS.map((_, i) => shifted(sample.fields, sample.raw, i))
        const rows = raws.map(parse)
        for (const row of rows) {
          if (Effect.runSync(decode(row)) === undefined) throw new Error(`${name} ${step}: ${shape} did not decode`)
        }
        let next = 0
        const turn = () => (next = (next + 1) % VARIANTS.length)
        pieces.push({ label: `${step} parse`, step, perCall, tree: name, run: () => parse(raws[turn()]!) })
        pieces.push({ label: `${step} decode`, step, perCall, tree: name, run: () => Effect.runSync(decode(rows[turn()]!)) })
        pieces.push({ label: `${step} parse+decode`, step, perCall, tree: name, run: () => Effect.runSync(decode(parse(raws[turn()]!))) })
      }
    }
  }
  const times = new Map<string, Array<number>>()
  for (const piece of pieces) nsPer(piece.run, 100) // warm-up
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? pieces : [...pieces].reverse()
    for (const piece of order) {
      const key = `${piece.label}|${piece.tree}`
      times.set(key, [...(times.get(key) ?? []), nsPer(piece.run)])
    }
    loads.push(os.loadavg().map((l) => l.toFixed(2)).join(" "))
  }
  console.log(`\n## Price per row, ns (median of ${rounds} interleaved rounds)`)
  console.log(`load average (1/5/15 min) at start and after each round: ${loads.join(" | ")}`)
  console.log("| piece | rows per call | base ns | mine ns | mine ÷ base |")
  console.log("|---|---|---|---|---|")
  const labels = [...new Set(pieces.map((piece) => piece.label))]
  const perLifecycle = { base: 0, mine: 0 }
  for (const label of labels) {
    const [b, m] = [median(times.get(`${label}|base`) ?? [NaN]), median(times.get(`${label}|mine`) ?? [NaN])]
    const perCall = pieces.find((piece) => piece.label === label)!.perCall
    if (label.endsWith("parse+decode")) {
      perLifecycle.base += b * perCall
      perLifecycle.mine += m * perCall
    }
    console.log(`| ${label} | ${perCall.toFixed(2)} | ${b.toFixed(0)} | ${m.toFixed(0)} | ${(m / b).toFixed(2)}× |`)
  }
  console.log(`\nparse+decode per lifecycle (claim, heartbeat, complete rows): base ${(perLifecycle.base / 1000).toFixed(2)} µs, ` +
    `mine ${(perLifecycle.mine / 1000).toFixed(2)} µs, mine ÷ base ${(perLifecycle.mine / perLifecycle.base).toFixed(2)}×`)
}

runMain(main)
