/**
 * A V8 `.cpuprofile` summarised (`npx tsx bench/cpuProfile.ts file.cpuprofile
 * [jobs]`, or `summarise` from a script): self time by module — an npm
 * package, a file of ours, or a V8/Node bucket — and by function, as shares
 * of the busy time (everything but `(idle)`), and µs per job when `jobs` is given.
 */
import * as fs from "node:fs"

/** The parts of V8's profile format read here. */
export interface CpuProfile {
  readonly nodes: ReadonlyArray<{
    readonly id: number
    readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
    readonly children?: ReadonlyArray<number>
  }>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

/** The module a frame belongs to: `effect`, `@effect/sql`, `pg`, `src/store/pg/rows.ts`, `node:internal`, `(gc)`. */
export const moduleOf = (url: string, functionName: string): string => {
  if (url === "") return functionName.startsWith("(") ? functionName : "(native)"
  const inPackage = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)
  if (inPackage !== null) return inPackage[1]!
  const ours = /\/((?:src|bench|test)\/.*)$/.exec(url)
  if (ours !== null) return ours[1]!
  if (url.startsWith("node:")) return "node:internal"
  return url
}

/** A frame's file, short: within its package, or ours from `src/`. */
export const fileOf = (url: string): string => {
  const inPackage = /node_modules\/((?:@[^/]+\/)?[^/]+\/.*)$/.exec(url)
  if (inPackage !== null) return inPackage[1]!.replace(/\/dist\/(esm|cjs)\//, "/")
  return moduleOf(url, "")
}

const table = (title: string, rows: ReadonlyArray<readonly [string, number]>, busy: number, jobs: number | undefined, top: number) => {
  console.log(`\n### ${title}`)
  console.log(`| | share of busy | ${jobs === undefined ? "ms" : "µs per job"} |`)
  console.log("|---|---|---|")
  for (const [name, us] of rows.slice(0, top)) {
    const value = jobs === undefined ? (us / 1000).toFixed(1) : (us / jobs).toFixed(0)
    console.log(`| ${name.replace(/\|/g, "\\|")} | ${(100 * us / busy).toFixed(1)}% | ${value} |`)
  }
}

/** Prints self time by module, by file and by function. */
export const summarise = (profile: CpuProfile, jobs?: number): void => {
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]))
  // The profiler's own stop (`Session.post`) is sampled too: not the workload's.
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const profilerOwn = new Map<number, boolean>()
  const isProfilerOwn = (id: number): boolean => {
    const known = profilerOwn.get(id)
    if (known !== undefined) return known
    const up = parent.get(id)
    const own = frames.get(id)!.url === "node:inspector" || (up !== undefined && isProfilerOwn(up))
    profilerOwn.set(id, own)
    return own
  }
  const byModule = new Map<string, number>()
  const byFunction = new Map<string, number>()
  const byFile = new Map<string, number>()
  let busy = 0
  let idle = 0
  profile.samples.forEach((id, i) => {
    const frame = frames.get(id)!
    const us = profile.timeDeltas[i] ?? 0
    if (isProfilerOwn(id)) return
    if (frame.functionName === "(idle)") {
      idle += us
      return
    }
    busy += us
    const module = moduleOf(frame.url, frame.functionName)
    byModule.set(module, (byModule.get(module) ?? 0) + us)
    const fn = `${frame.functionName || "(anonymous)"} ${frame.url === "" ? module : fileOf(frame.url)}:${frame.lineNumber + 1}`
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us)
    const file = frame.url === "" ? module : fileOf(frame.url)
    byFile.set(file, (byFile.get(file) ?? 0) + us)
  })
  const sorted = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1])
  console.log(`\nbusy ${(busy / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms` +
    (jobs === undefined ? "" : ` (${(busy / jobs).toFixed(0)} µs busy per job, ${(idle / jobs).toFixed(0)} µs idle)`))
  table("Self time by module", sorted(byModule), busy, jobs, 30)
  table("Self time by file", sorted(byFile), busy, jobs, 25)
  table("Self time by function", sorted(byFunction), busy, jobs, 30)
}

if (process.argv[1]?.endsWith("cpuProfile.ts") === true && process.argv[2] !== undefined) {
  const jobs = process.argv[3] === undefined ? undefined : Number(process.argv[3])
  summarise(JSON.parse(fs.readFileSync(process.argv[2], "utf8")) as CpuProfile, jobs)
}
