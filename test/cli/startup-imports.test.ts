/**
 * `ai-jobs` loads the HTTP stack only when `serve` runs (src/cli/serve.ts
 * imports src/cli/serveApp.ts on demand): every other command starts ~0.2 s
 * sooner from dist/. A walk of the static imports from src/cli/main.ts keeps
 * it so — a new static import of the HTTP side fails here, not silently in
 * every operator's start-up time.
 */
import { assert, describe, it } from "@effect/vitest"
import * as path from "node:path"
import { importsOf, inSrc, resolveImport, srcDir as SRC } from "../support/importGraph.js"

/** Every module reached from `entry` by static imports: our files by path, packages by specifier. */
const reachable = (entry: string) => {
  const files = new Set<string>()
  const packages = new Set<string>()
  const visit = (file: string): void => {
    if (files.has(file)) return
    files.add(file)
    for (const specifier of importsOf(file).loadedWith) {
      if (specifier.startsWith(".")) visit(resolveImport(file, specifier))
      else packages.add(specifier)
    }
  }
  visit(entry)
  return { files: [...files].map(inSrc), packages: [...packages] }
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
