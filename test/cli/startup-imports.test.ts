/**
 * `ai-jobs` loads the HTTP stack only when `serve` runs (src/cli/serve.ts
 * imports src/cli/serveApp.ts on demand): every other command starts ~0.2 s
 * sooner from dist/. A walk of the static imports from src/cli/main.ts keeps
 * it so — a new static import of the HTTP side fails here, not silently in
 * every operator's start-up time.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"

const SRC = path.resolve(import.meta.dirname, "../../src")

/** Static, value-level imports and re-exports of a module (not `import type`, not `import()`). */
const staticImports = (file: string): ReadonlyArray<string> => {
  const text = fs.readFileSync(file, "utf8")
  const found: Array<string> = []
  for (const match of text.matchAll(/^(?:import|export)\s+(?!type\s)(?:[^;]*?\sfrom\s+)?"([^"]+)"/gm)) {
    found.push(match[1]!)
  }
  return found
}

/** Every module reached from `entry` by static imports: our files by path, packages by specifier. */
const reachable = (entry: string) => {
  const files = new Set<string>()
  const packages = new Set<string>()
  const visit = (file: string): void => {
    if (files.has(file)) return
    files.add(file)
    for (const specifier of staticImports(file)) {
      if (specifier.startsWith(".")) visit(path.resolve(path.dirname(file), specifier).replace(/\.js$/, ".ts"))
      else packages.add(specifier)
    }
  }
  visit(entry)
  return { files: [...files].map((file) => path.relative(SRC, file)), packages: [...packages] }
}

describe("CLI start-up", () => {
  it("R17 ai-jobs statically loads no HTTP server, API or console module: serve imports them when it runs", () => {
    const { files, packages } = reachable(path.join(SRC, "cli/main.ts"))
    assert.include(files, "cli/serve.ts", "the walk reaches the serve command itself")
    assert.notInclude(files, "cli/serveApp.ts")
    assert.deepStrictEqual(files.filter((file) => file.startsWith("http/") && file !== "http/tokenRules.ts"), [])
    assert.deepStrictEqual(packages.filter((name) => /^@effect\/platform(-node)?\/(Http|NodeHttp)/.test(name)), [])
  })

  it("R17 the walk sees what serve's own module loads (it would notice the HTTP stack if main reached it)", () => {
    const { files, packages } = reachable(path.join(SRC, "cli/serveApp.ts"))
    assert.include(files, "http/JobsApi.ts")
    assert.include(packages, "@effect/platform/HttpApiBuilder")
  })
})
