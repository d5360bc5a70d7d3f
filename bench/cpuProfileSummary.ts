/**
 * A `.cpuprofile` (`node --cpu-prof`) as `bench/cpuProfile.ts` summarises it
 * (self time by module, file and function), plus the total time under each
 * of the given function names (inclusive) and the dependencies' self time
 * charged to the nearest frame of ours. Not part of `npm run bench`.
 *
 *   npx tsx bench/cpuProfileSummary.ts <file.cpuprofile> [functionName ...]
 */
import * as fs from "node:fs"
import { type CpuProfile, summarise } from "./cpuProfile.js"

const [file, ...names] = process.argv.slice(2)
if (file === undefined) throw new Error("usage: cpuProfileSummary.ts <file.cpuprofile> [functionName ...]")
const profile = JSON.parse(fs.readFileSync(file, "utf8")) as CpuProfile
summarise(profile)

const byId = new Map(profile.nodes.map((node) => [node.id, node]))
const parent = new Map<number, number>()
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)

const self = new Map<number, number>()
let total = 0
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0
  self.set(id, (self.get(id) ?? 0) + dt)
  total += dt
})

const shortUrl = (url: string) => url.replace(/^.*\/node_modules\//, "~/").replace(/^.*\/(src|bench)\//, "$1/").replace(/^file:\/\//, "")
const add = (map: Map<string, number>, key: string, dt: number) => map.set(key, (map.get(key) ?? 0) + dt)
const table = (title: string, map: Map<string, number>, rows: number) => {
  console.log(`\n### ${title}`)
  for (const [key, dt] of [...map].sort((a, b) => b[1] - a[1]).slice(0, rows)) {
    console.log(`${(100 * dt / total).toFixed(1).padStart(5)}%  ${(dt / 1000).toFixed(0).padStart(6)} ms  ${key}`)
  }
}

// Inclusive time of the named functions: each sample counts once per name on its stack.
if (names.length > 0) {
  const inclusive = new Map<string, number>()
  for (const [id, dt] of self) {
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const name = byId.get(at)!.callFrame.functionName
      if (names.includes(name) && !seen.has(name)) {
        seen.add(name)
        add(inclusive, name, dt)
      }
    }
  }
  table("inclusive time of", inclusive, names.length)
}

// Who pays for the library frames: self time in `~/` (dependencies) charged to the nearest frame of ours on the stack.
const ours = new Map<string, number>()
for (const [id, dt] of self) {
  const node = byId.get(id)!
  if (!shortUrl(node.callFrame.url).startsWith("~/")) continue
  let owner = "(no frame of ours)"
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const frame = byId.get(at)!.callFrame
    const url = shortUrl(frame.url)
    if (url.startsWith("src/")) {
      owner = `${url}:${frame.lineNumber + 1} ${frame.functionName}`
      break
    }
  }
  add(ours, `${shortUrl(node.callFrame.url).replace(/^~\/(.*?)\/dist\/esm\//, "$1:")} ← ${owner}`, dt)
}
table("dependency self time, by the nearest frame of ours", ours, 30)
