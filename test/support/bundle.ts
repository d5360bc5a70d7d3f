/**
 * Our sources bundled once per test file with esbuild, for the child
 * processes the tests start (workers, the CLI). `node --import tsx x.ts`
 * spends 2–4 s of this 2-core machine loading Effect's modules through the
 * loader hooks; the bundle starts in under a second, which is what lets the
 * crash campaign kill hundreds of processes and the CLI suites run hundreds of
 * commands without the machine's load deciding whether they pass. The bundle
 * is the same sources, compiled once; `HSK_WORKER_TSX=1` runs them through
 * tsx instead.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as esbuild from "esbuild"
import { removeAtExit } from "./removeAtExit.js"

/** The repository root. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")

const bundles = new Map<string, Promise<string>>()

/**
 * Bundles `entry` into a temporary folder laid out like the repository where
 * it matters: the store modules find `migrations/` three folders above
 * themselves (`new URL("../../../migrations/…", import.meta.url)`), the CLI its
 * package.json two above, and the native driver (better-sqlite3) is loaded
 * from `node_modules`; all are symlinks to the repository's. The folder is
 * readable by every user (the CLI suites run commands as `postgres`).
 */
export const bundle = (entry: string): Promise<string> => {
  const cached = bundles.get(entry)
  if (cached !== undefined) return cached
  const built = (async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-bundle-"))
    fs.chmodSync(root, 0o755)
    removeAtExit(root)
    fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(root, "node_modules"))
    fs.symlinkSync(path.join(repoRoot, "migrations"), path.join(root, "migrations"))
    fs.mkdirSync(path.join(root, "bundle"))
    fs.symlinkSync(path.join(repoRoot, "package.json"), path.join(root, "bundle", "package.json"))
    // Same depth as in the repository: bundle/<dir>/<dir>/<file>.mjs.
    const outfile = path.join(root, "bundle", path.relative(repoRoot, entry).replace(/\.ts$/, ".mjs"))
    await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      outfile,
      external: ["better-sqlite3", "pg-native"],
      // Bundled CommonJS (pg) calls require(): give the ES module one.
      banner: { js: "import { createRequire as __createRequire } from \"node:module\"; const require = __createRequire(import.meta.url);" },
      logLevel: "error"
    })
    return outfile
  })()
  bundles.set(entry, built)
  return built
}

/** tsx's loader by an absolute URL, so a child started in any folder (a temp dir has no node_modules) finds it. */
const tsxLoader = pathToFileURL(path.join(repoRoot, "node_modules", "tsx", "dist", "loader.mjs")).href

/** The node arguments that run `entry` (a .ts path): its bundle, or tsx's loader when HSK_WORKER_TSX=1. */
export const nodeArgsFor = async (entry: string): Promise<ReadonlyArray<string>> =>
  process.env["HSK_WORKER_TSX"] === "1" ? ["--import", tsxLoader, entry] : [await bundle(entry)]
