/**
 * Issue 14: the architecture the README draws, held by a test. Every import
 * inside `src/` points down the layers (or within one), and no files import
 * each other in a circle. A new module that breaks either fails here, naming
 * the import.
 */
import { readdirSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { importsOf, inSrc, resolveImport, srcDir } from "../support/importGraph.js"

/** The layers, lowest first; a file belongs to the first whose test it passes. */
const layers: ReadonlyArray<readonly [string, (path: string) => boolean]> = [
  ["util", (p) => p.startsWith("util/")],
  ["domain", (p) => p.startsWith("domain/")],
  ["store", (p) => p.startsWith("store/")],
  ["capabilities", (p) => p === "Capabilities.ts"],
  ["flight recorder and wake-up", (p) =>
    p === "FlightRecorder.ts" || p === "WakeUp.ts" || p.startsWith("internal/flight/") || p.startsWith("internal/wakeUp/") ||
    /^internal\/[^/]+\.ts$/.test(p)],
  ["jobs internals, recovery, janitor", (p) =>
    p.startsWith("internal/jobs/") || p.startsWith("internal/engine/") || p === "Recovery.ts" || p === "Janitor.ts"],
  ["jobs", (p) => p === "Jobs.ts"],
  ["http", (p) => p.startsWith("http/")],
  ["cli", (p) => p.startsWith("cli/")],
  ["package root", (p) => p === "index.ts"]
]

const rankOf = (path: string): number => {
  const rank = layers.findIndex(([, test]) => test(path))
  if (rank < 0) throw new Error(`${path} belongs to no layer: add it to the table in this test and the README`)
  return rank
}

const sourceFiles = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : []
  )

/** Each file's imports of other files of `src/`, as paths relative to `src/`. */
const graph = new Map<string, ReadonlyArray<string>>(
  sourceFiles(srcDir).map((file) => {
    const targets = importsOf(file).all.filter((specifier) => specifier.startsWith(".")).map((specifier) => inSrc(resolveImport(file, specifier)))
    return [inSrc(file), targets.filter((target) => target.endsWith(".ts"))] as const
  })
)

describe("issue 14 the import graph of src/", () => {
  it("issue 14 every import points down the layers or within one", () => {
    const upward: Array<string> = []
    for (const [file, targets] of graph) {
      for (const target of targets) {
        if (rankOf(target) > rankOf(file)) {
          upward.push(`${file} (${layers[rankOf(file)]![0]}) imports ${target} (${layers[rankOf(target)]![0]})`)
        }
      }
    }
    assert.deepStrictEqual(upward, [])
  })

  it("issue 14 no files import each other in a circle", () => {
    const done = new Set<string>()
    const path: Array<string> = []
    const circles: Array<string> = []
    const visit = (file: string) => {
      const at = path.indexOf(file)
      if (at >= 0) return void circles.push([...path.slice(at), file].join(" → "))
      if (done.has(file)) return
      path.push(file)
      for (const target of graph.get(file) ?? []) visit(target)
      path.pop()
      done.add(file)
    }
    for (const file of graph.keys()) visit(file)
    assert.deepStrictEqual(circles, [])
  })

  it("issue 14 the graph is read: every file of src/ is in it, with its imports", () => {
    assert.isAbove(graph.size, 100)
    assert.isTrue(graph.get("Jobs.ts")?.includes("store/JobStore.ts"))
    assert.isTrue(graph.get("internal/jobs/submit.ts")?.includes("domain/AiJob.ts"))
  })
})
