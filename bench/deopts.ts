/**
 * What V8's optimizing compiler and the garbage collector do per PostgreSQL
 * lifecycle in steady state (issue 16), for one or more trees side by side:
 *
 *   npx tsx bench/deopts.ts [--workers 4] [--jobs 1000] [--rounds 4] [--runs 2] [tree root …]
 *
 * Each run starts, for each tree in turn (the order alternating run by run),
 * a fresh node process (bench/deoptsChild.ts) under V8's code log
 * (`--log-code --log-deopt`): a 400-job warm-up, then `rounds` rounds of
 * `jobs` lifecycles by `workers` workers. From the log, per round: the
 * functions TurboFan compiled and the deoptimizations (function, position,
 * reason); positions in our TypeScript are mapped back through tsx's source
 * maps, which the log carries with each script's source. From the child: the
 * collections per round (scavenges, mark-compacts, pause) and the bytes
 * allocated per job, and, in one more round under the sampling heap profiler
 * (collected objects kept), who allocated them. Counts do not depend on the
 * load; pauses and CPU do. `DEOPTS_NODE_FLAGS` adds V8 flags to the children (an experiment's). The child's CPU is not a benchmark figure (the log
 * costs): use bench/concurrentCost.ts for that. Not part of `npm run bench`.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import { SourceMap } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import * as readline from "node:readline"
import { fileURLToPath } from "node:url"
import type { ChildFigures } from "./deoptsChild.js"
import { startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"
import { median } from "./trees.js"

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

interface LogFigures {
  /** TurboFan compilations by round (index), each naming its function. */
  readonly optimized: Array<Array<string>>
  /** Deoptimizations by round: function · position · reason. */
  readonly deopts: Array<Array<string>>
  /** TurboFan's compile time by round (prepare + execute + finalize, ms); the mean time × the count when trace-opt and the log disagree on the count. */
  readonly compileMs: Array<number>
  /** By round: compilations of a function TurboFan had compiled before (in the warm-up or an earlier round). */
  readonly recompiled: Array<number>
  /** Maps the child's positions in our TypeScript back to the source. */
  readonly positions: Positions
}

const unescapeLog = (text: string): string =>
  text.replace(/\\(x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|n|\\)/g, (_, code: string) =>
    code === "n" ? "\n" : code === "\\" ? "\\" : String.fromCharCode(parseInt(code.slice(1), 16)))

/** Maps positions in scripts whose source carries an inline source map (tsx's) back to the original file. */
class Positions {
  private readonly maps = new Map<string, SourceMap | null>()
  addScript(url: string, source: string) {
    const match = /\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/.exec(source)
    if (match === null) return
    try {
      this.maps.set(url, new SourceMap(JSON.parse(Buffer.from(match[1]!, "base64").toString("utf8"))))
    } catch {
      // not a map we can read: positions stay as they are
    }
  }
  /** `url:line:col` (1-based) as a short original position. */
  name(url: string, line: number, column: number): string {
    const map = this.maps.get(url)
    let file = url
    let at = `${line}`
    if (map) {
      const entry = map.findEntry(line - 1, column - 1) as { originalSource?: string; originalLine?: number }
      if (entry.originalSource !== undefined && entry.originalLine !== undefined) {
        file = entry.originalSource
        at = `${entry.originalLine + 1}`
      }
    }
    return `${shortFile(file)}:${at}`
  }
}

const shortFile = (file: string): string => {
  const noScheme = file.replace(/^file:\/\//, "")
  const modules = noScheme.lastIndexOf("node_modules/")
  if (modules >= 0) return noScheme.slice(modules + "node_modules/".length)
  const source = /\/(src|bench|test)\/.*/.exec(noScheme)
  return source ? source[0].slice(1) : noScheme
}

/** `name url:line:col` of the code log as `name (file:line)`, in the original file. */
const functionOf = (positions: Positions, logName: string): string => {
  const match = /^(.*?) ?(\S+):(\d+):(\d+)$/.exec(logName)
  if (match === null) return logName || "(anonymous)"
  return `${match[1] || "(anonymous)"} ${positions.name(match[2]!, Number(match[3]), Number(match[4]))}`
}

/** Reads V8's code log: TurboFan compilations and deoptimizations, split by the child's round markers. */
const readLog = async (file: string, compileMs: ReadonlyArray<number>): Promise<LogFigures> => {
  const positions = new Positions()
  const code = new Map<string, string>() // code address → its function
  const events: Array<{ kind: "opt" | "deopt"; round: number; what: string }> = []
  let round = -1 // the warm-up
  let turbofan = 0 // TurboFan code objects so far: the index into compileMs
  const roundCompileMs: Array<number> = []
  const optimizedOnce = new Set<string>() // functions TurboFan compiled so far, the warm-up's included
  const recompiled: Array<number> = [] // by round: compilations of a function compiled before
  const lines = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity })
  for await (const line of lines) {
    if (line.startsWith("script-source,")) {
      const [, , url] = line.split(",", 3)
      if (url !== undefined && url.includes("/src/")) {
        const source = unescapeLog(line.slice(line.indexOf(",", line.indexOf(",", 14) + 1) + 1))
        positions.addScript(url, source)
      }
      continue
    }
    if (line.startsWith("code-creation,JS,")) {
      // code-creation,JS,kind,time,address,size,name,sfi,state
      const fields = line.split(",")
      const name = unescapeLog(fields[6] ?? "")
      const state = fields[8]
      const marker = /deopts_mark_(round_(\d+)|sampling|survivors|end)/.exec(name)
      if (marker !== null) {
        round = marker[2] !== undefined ? Number(marker[2]) : -2
        continue
      }
      code.set(fields[4]!, name)
      if (state === "*") {
        const before = optimizedOnce.has(name)
        optimizedOnce.add(name)
        if (round >= 0 && before) recompiled[round] = (recompiled[round] ?? 0) + 1
        if (round >= 0) {
          events.push({ kind: "opt", round, what: name })
          roundCompileMs[round] = (roundCompileMs[round] ?? 0) + (compileMs[turbofan] ?? Number.NaN)
        }
        turbofan++
      }
    } else if (line.startsWith("code-move,")) {
      const [, from, to] = line.split(",")
      const name = code.get(from!)
      if (name !== undefined) code.set(to!, name)
    } else if (line.startsWith("code-deopt,") && round >= 0) {
      // code-deopt,time,size,address,inlining id,script offset,bailout type,position,reason
      const fields = line.split(",")
      const position = unescapeLog(fields[7] ?? "").replace(/<(\S+):(\d+):(\d+)>/g, (_, url: string, l: string, c: string) => positions.name(url, Number(l), Number(c)))
      events.push({ kind: "deopt", round, what: `${code.get(fields[3]!) ?? "?"}|${fields[6]}|${position}|${unescapeLog(fields.slice(8).join(","))}` })
    }
  }
  const rounds = 1 + Math.max(-1, ...events.map((e) => e.round))
  const optimized = Array.from({ length: rounds }, () => [] as Array<string>)
  const deopts = Array.from({ length: rounds }, () => [] as Array<string>)
  for (const event of events) {
    if (event.kind === "opt") optimized[event.round]!.push(functionOf(positions, event.what))
    else {
      const [fn, kind, position, reason] = event.what.split("|")
      deopts[event.round]!.push(`${functionOf(positions, fn!)} · ${kind} at ${position} · ${reason}`)
    }
  }
  // The pairing holds only if trace-opt and the log saw the same compilations.
  const paired = turbofan === compileMs.length
  if (!paired) console.log(`(TurboFan code objects in the log ${turbofan}, compilations traced ${compileMs.length}: compile times by round are the traced mean × the count)`)
  const meanMs = compileMs.reduce((a, b) => a + b, 0) / Math.max(1, compileMs.length)
  const compileByRound = Array.from({ length: rounds }, (_, r) => paired ? roundCompileMs[r] ?? 0 : optimized[r]!.length * meanMs)
  return { optimized, deopts, positions, compileMs: compileByRound, recompiled: Array.from({ length: rounds }, (_, r) => recompiled[r] ?? 0) }
}

/** The owner of an allocation site, for the summary by module. */
const ownerOf = (url: string): string => {
  const file = shortFile(url)
  if (file === "" || file.startsWith("node:")) return file || "(VM / native)"
  if (file.startsWith("src/") || file.startsWith("bench/")) return file
  return file.split("/")[0]!.startsWith("@") ? file.split("/").slice(0, 2).join("/") : file.split("/")[0]!
}

const runChild = async (tree: string, url: string, workers: number, jobs: number, rounds: number) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "deopts-"))
  const log = path.join(tmp, "v8.log")
  const out = path.join(tmp, "figures.json")
  const child = spawn(process.execPath, [
    "--log-code",
    "--log-deopt",
    "--trace-opt",
    "--expose-gc",
    `--logfile=${log}`,
    "--no-logfile-per-isolate",
    // Extra V8 flags for an experiment (e.g. --no-allocation-site-pretenuring), space-separated.
    ...(process.env.DEOPTS_NODE_FLAGS ?? "").split(" ").filter((flag) => flag !== ""),
    "--import",
    "tsx",
    path.join(here, "bench/deoptsChild.ts"),
    tree,
    url,
    String(workers),
    String(jobs),
    String(rounds),
    out
  ], { cwd: here, stdio: ["ignore", "pipe", "inherit"] })
  // --trace-opt's "completed compiling … took a, b, c ms" (prepare, execute, finalize), in the order the log records the code.
  const compileMs: Array<number> = []
  const lines = readline.createInterface({ input: child.stdout, crlfDelay: Infinity })
  lines.on("line", (line) => {
    const took = /^\[completed compiling .*\(target TURBOFAN\).* took ([\d.]+), ([\d.]+), ([\d.]+) ms\]/.exec(line)
    if (took !== null) compileMs.push(Number(took[1]) + Number(took[2]) + Number(took[3]))
  })
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve))
  if (code !== 0) throw new Error(`deoptsChild for ${tree} exited with ${code}`)
  const figures = JSON.parse(fs.readFileSync(out, "utf8")) as ChildFigures
  const logFigures = await readLog(log, compileMs)
  fs.rmSync(tmp, { recursive: true, force: true })
  return { figures, log: logFigures }
}

type Run = Awaited<ReturnType<typeof runChild>>

const countBy = (items: ReadonlyArray<string>): Array<[string, number]> => {
  const counts = new Map<string, number>()
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1)
  return [...counts].sort((a, b) => b[1] - a[1])
}

const report = (tree: string, runs: ReadonlyArray<Run>, workers: number, jobs: number) => {
  const per1000 = (n: number) => (n * 1000 / jobs).toFixed(1)
  console.log(`\n## ${tree}: ${workers} workers, ${runs.length} run(s) of ${runs[0]?.figures.rounds.length} rounds × ${jobs} jobs after a 400-job warm-up\n`)
  console.log("TurboFan compilations per 1,000 jobs, round by round:", runs.map((r) => r.log.optimized.map((o) => per1000(o.length)).join(" / ")).join("  |  "))
  console.log("… of which re-compilations (compiled before):       ", runs.map((r) => r.log.recompiled.map((n) => per1000(n)).join(" / ")).join("  |  "))
  console.log("Deoptimizations per 1,000 jobs, round by round:     ", runs.map((r) => r.log.deopts.map((o) => per1000(o.length)).join(" / ")).join("  |  "))
  console.log("TurboFan compile time, ms per 1,000 jobs, by round:  ", runs.map((r) => r.log.compileMs.map((ms) => (ms * 1000 / jobs).toFixed(0)).join(" / ")).join("  |  "))
  const rounds = runs.flatMap((r) => r.figures.rounds)
  const med = (f: (g: ChildFigures["rounds"][number]) => number) => median(rounds.map(f))
  console.log(`Per 1,000 jobs (median of ${rounds.length} rounds): scavenges ${(med((g) => g.scavenges) * 1000 / jobs).toFixed(1)}, mark-compacts ${(med((g) => g.markCompacts) * 1000 / jobs).toFixed(2)}, other collections ${(med((g) => g.other) * 1000 / jobs).toFixed(2)}, GC pause ${(med((g) => g.pauseMs) * 1000 / jobs).toFixed(1)} ms`)
  console.log(`Bytes promoted by scavenges per job (median): ${med((g) => g.promotedBytes / jobs).toFixed(0)}`)
  console.log(`Child CPU per job under the code log (median, not a benchmark figure): ${med((g) => g.cpuMicros / jobs).toFixed(0)} µs`)
  console.log(`Bytes allocated per job (median): ${med((g) => g.allocatedBytes / jobs).toFixed(0)} (rounds: ${rounds.map((g) => (g.allocatedBytes / jobs).toFixed(0)).join(", ")})`)
  const measuredRounds = runs.reduce((n, r) => n + r.log.optimized.length, 0)
  const scale = (n: number) => (n * 1000 / (jobs * measuredRounds)).toFixed(2)
  console.log(`\nFunctions TurboFan compiled in the measured rounds (per 1,000 jobs, all runs):`)
  for (const [what, n] of countBy(runs.flatMap((r) => r.log.optimized.flat())).slice(0, 25)) console.log(`  ${scale(n).padStart(6)}  ${what}`)
  console.log(`\nDeoptimizations in the measured rounds (per 1,000 jobs, all runs):`)
  for (const [what, n] of countBy(runs.flatMap((r) => r.log.deopts.flat())).slice(0, 25)) console.log(`  ${scale(n).padStart(6)}  ${what}`)
  const sampled = runs.reduce((n, r) => n + r.figures.sampledJobs, 0)
  const sites = runs.flatMap((r) => r.figures.sites.map((s) => ({ ...s, at: s.url === "" ? "(native)" : r.log.positions.name(s.url, s.line, s.column) })))
  const total = sites.reduce((n, s) => n + s.bytes, 0)
  console.log(`\nSampled allocation per job (sampling heap profiler, collected objects kept; ~${(total / sampled).toFixed(0)} bytes/job in the sites kept), by owner:`)
  for (const [owner, bytes] of [...sites.reduce((m, s) => m.set(ownerOf(s.url), (m.get(ownerOf(s.url)) ?? 0) + s.bytes), new Map<string, number>())].sort((a, b) => b[1] - a[1]).slice(0, 20)) {
    console.log(`  ${(bytes / sampled).toFixed(0).padStart(7)} B  ${(100 * bytes / total).toFixed(1).padStart(5)}%  ${owner}`)
  }
  console.log(`\nTop allocation sites (bytes/job, the function's own allocations by where the function starts):`)
  const bySite = new Map<string, number>()
  for (const s of sites) {
    const key = `${s.functionName || "(anonymous)"} ${s.at}`
    bySite.set(key, (bySite.get(key) ?? 0) + s.bytes)
  }
  for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`  ${(bytes / sampled).toFixed(0).padStart(7)} B  ${site}`)
  const survivors = new Map<string, number>()
  for (const r of runs) {
    for (const s of r.figures.survivors) {
      const key = `${s.functionName || "(anonymous)"} ${s.url === "" ? "(native)" : r.log.positions.name(s.url, s.line, s.column)}`
      survivors.set(key, (survivors.get(key) ?? 0) + s.bytes)
    }
  }
  const survivorJobs = runs.reduce((n, r) => n + r.figures.survivorJobs, 0)
  console.log(`\nStill held after ${runs[0]?.figures.survivorJobs} jobs begun after a full collection (sampled: promoted and not yet collected, or live), bytes/job, total ${([...survivors.values()].reduce((a, b) => a + b, 0) / survivorJobs).toFixed(0)}:`)
  for (const [site, bytes] of [...survivors].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${(bytes / survivorJobs).toFixed(0).padStart(7)} B  ${site}`)
  console.log(`\nTop allocation sites in our source (bytes/job):`)
  for (const [site, bytes] of [...bySite].filter(([site]) => / src\//.test(site)).sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(`  ${(bytes / sampled).toFixed(0).padStart(7)} B  ${site}`)
}

const main = async () => {
  const args = process.argv.slice(2)
  const option = (name: string, fallback: number) => {
    const at = args.indexOf(`--${name}`)
    if (at < 0) return fallback
    const value = Number(args[at + 1])
    args.splice(at, 2)
    return value
  }
  const workers = option("workers", 4)
  const jobs = option("jobs", 1000)
  const rounds = option("rounds", 4)
  const runCount = option("runs", 2)
  const trees = (args.length > 0 ? args : [here]).map((t) => path.resolve(t))
  const cluster = await startBenchCluster()
  const results = new Map<string, Array<Run>>(trees.map((t) => [t, []]))
  try {
    for (let run = 0; run < runCount; run++) {
      const order = run % 2 === 0 ? trees : [...trees].reverse()
      for (const tree of order) {
        const url = await cluster.createDatabase(`deopts_${run}_${trees.indexOf(tree)}`)
        results.get(tree)!.push(await runChild(tree, url, workers, jobs, rounds))
        console.log(`run ${run + 1}: ${tree} done, load ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`)
      }
    }
  } finally {
    await cluster.stop()
  }
  for (const tree of trees) report(tree, results.get(tree)!, workers, jobs)
}

runMain(main)
