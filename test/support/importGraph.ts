/**
 * The imports of our source files, read from their text: what the
 * architecture test (test/package/layers.test.ts) and the CLI's start-up test
 * (test/cli/startup-imports.test.ts) walk.
 */
import { readFileSync } from "node:fs"
import { dirname, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"

/** The repository's `src/`. */
export const srcDir = resolve(dirname(fileURLToPath(import.meta.url)), "../../src")

/** A module's imports by specifier: all of them (types and `import()` too), and those loaded with it (static, value-level). */
export const importsOf = (file: string): { readonly all: ReadonlyArray<string>; readonly loadedWith: ReadonlyArray<string> } => {
  const text = readFileSync(file, "utf8")
  return {
    all: [...text.matchAll(/(?:from|import)\s*\(?\s*"([^"]+)"/g)].map((match) => match[1]!),
    loadedWith: [...text.matchAll(/^(?:import|export)\s+(?!type\s)(?:[^;]*?\sfrom\s+)?"([^"]+)"/gm)].map((match) => match[1]!)
  }
}

/** A relative specifier imported by `file`, as the `.ts` file it names. */
export const resolveImport = (file: string, specifier: string): string =>
  resolve(dirname(file), specifier).replace(/\.js$/, ".ts")

/** A file's path relative to `src/`. */
export const inSrc = (file: string): string => relative(srcDir, file)
