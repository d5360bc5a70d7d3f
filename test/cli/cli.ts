/**
 * Running the real `ai-jobs` as a subprocess: `node --import tsx
 * src/cli/main.ts ...`, from any working directory, capturing its output and
 * exit code. Nothing is mocked.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

/** The repository root. */
export const repoRoot = fileURLToPath(new URL("../../", import.meta.url))

const main = path.join(repoRoot, "src", "cli", "main.ts")
// An absolute loader URL, so the CLI can run with any cwd (a temp dir has no node_modules).
const tsx = pathToFileURL(path.join(repoRoot, "node_modules", "tsx", "dist", "loader.mjs")).href

/** What a run printed and how it exited. */
export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs `ai-jobs <args>` in `cwd`; `DATABASE_URL` is unset unless `env` sets it. */
export const runCli = (
  args: ReadonlyArray<string>,
  options: { readonly cwd?: string; readonly env?: Record<string, string> } = {}
): Promise<CliResult> =>
  new Promise((resolve) => {
    const env: Record<string, string | undefined> = { ...process.env, ...options.env }
    if (options.env?.["DATABASE_URL"] === undefined) delete env["DATABASE_URL"]
    execFile(
      process.execPath,
      ["--import", tsx, main, ...args],
      { cwd: options.cwd ?? repoRoot, env, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1
        resolve({ code, stdout, stderr })
      }
    )
  })

/** A fresh temporary directory, removed when the test process exits. */
export const tempDir = (label: string): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `hsk-cli-${label}-`))
  process.once("exit", () => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** The non-empty lines of a text. */
export const lines = (text: string): Array<string> => text.split("\n").filter((line) => line.trim() !== "")
