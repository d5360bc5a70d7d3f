/**
 * Where the benchmark runs from. `npm run bench` runs it compiled by tsc
 * (`.bench-build/`), as the published package runs, not through tsx: tsx
 * wraps every closure in a `__name` call (esbuild's keepNames), a cost the
 * package does not pay and the peers, plain JavaScript, do not either. Its
 * results and report still go to the checkout's own files.
 */
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** This module's folder: `bench/`, or `.bench-build/bench/` when compiled. */
const own = path.dirname(fileURLToPath(import.meta.url))

/** Whether this run is the compiled one (`.js`), not tsx's (`.ts`). */
export const COMPILED = import.meta.url.endsWith(".js")

/** The extension of this run's modules: `.js` compiled, `.ts` through tsx. */
export const MODULE_EXTENSION = COMPILED ? ".js" : ".ts"

/** How a run through tsx runs our code (and every run before this was recorded). */
export const TSX_RUNTIME = "TypeScript through tsx (esbuild, keepNames)"

/** How the benchmark's code ran, as BENCHMARKS.md reports it. */
export const RUNTIME = COMPILED ? "compiled by tsc (ES2022), run by node" : TSX_RUNTIME

/** The checkout's root, where BENCHMARKS.md is written. */
export const projectRoot = path.resolve(own, COMPILED ? "../.." : "..")

/** The checkout's `bench/` folder: results.json and analysis.md. */
export const benchDirectory = path.join(projectRoot, "bench")

/** A bench module to start as a child process: its file, and node's options to run it the way this run runs. */
export const childScript = (name: string): { readonly file: string; readonly execArgv: ReadonlyArray<string> } => ({
  file: path.join(own, `${name}${MODULE_EXTENSION}`),
  execArgv: COMPILED ? [] : ["--import", "tsx"]
})
