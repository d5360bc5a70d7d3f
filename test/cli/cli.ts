/**
 * Running the real `ai-jobs` as a subprocess: `src/cli/main.ts` bundled once
 * per test file (test/support/bundle.ts: the same sources, starting in a
 * fraction of tsx's time, so a loaded machine does not decide whether a
 * suite of hundreds of commands passes; `HSK_WORKER_TSX=1` runs them through
 * tsx), from any working directory, capturing its output and exit code —
 * through a pipe, as another user, or on a real terminal (a pty from
 * util-linux `script`). Nothing is mocked.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { nodeArgsFor } from "../support/bundle.js"
import { removeAtExit } from "../support/removeAtExit.js"

/** The repository root. */
export const repoRoot = fileURLToPath(new URL("../../", import.meta.url))

const main = path.join(repoRoot, "src", "cli", "main.ts")

/** What a run printed and how it exited. */
export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** How to run it. */
export interface CliOptions {
  readonly cwd?: string
  /** Variables to set. `DATABASE_URL`, `COLUMNS`, `NO_COLOR` and `TERM` are unset unless given here. */
  readonly env?: Record<string, string>
  /** Run as this system user (through `runuser`) when the tests run as root, as the user they run as otherwise. */
  readonly user?: string
}

const PRESET = ["DATABASE_URL", "COLUMNS", "NO_COLOR", "TERM"]

const environment = (options: CliOptions) => {
  const env: Record<string, string | undefined> = { ...process.env }
  for (const name of PRESET) delete env[name]
  return { ...env, ...options.env }
}

/** `node <the CLI> ...args`: absolute paths, so it runs from any cwd (a temp dir has no node_modules). */
const nodeLine = async (args: ReadonlyArray<string>): Promise<Array<string>> => [process.execPath, ...await nodeArgsFor(main), ...args]

const command = async (args: ReadonlyArray<string>, options: CliOptions): Promise<[string, Array<string>]> => {
  const line = await nodeLine(args)
  return options.user !== undefined && process.getuid?.() === 0 ? ["runuser", ["-u", options.user, "--", ...line]] : [line[0]!, line.slice(1)]
}

const run = (file: string, args: ReadonlyArray<string>, cwd: string, env: Record<string, string | undefined>): Promise<CliResult> =>
  new Promise((resolve) => {
    execFile(file, args, { cwd, env, timeout: 90_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1
      resolve({ code, stdout, stderr })
    })
  })

/** Runs `ai-jobs <args>` with its output going to pipes. */
export const runCli = async (args: ReadonlyArray<string>, options: CliOptions = {}): Promise<CliResult> => {
  const [file, argv] = await command(args, options)
  return run(file, argv, options.cwd ?? repoRoot, environment(options))
}

/**
 * Runs `ai-jobs <args>` through bash, each argument given as bash source (`$'caf\xe9.db'`
 * for raw bytes: execFile takes only strings, which Node sends as UTF-8); `assignments` likewise
 * sets variables (`DATABASE_URL=$'…'`).
 */
export const runCliWithBytes = async (argsSource: string, options: CliOptions & { readonly assignments?: string } = {}): Promise<CliResult> => {
  const line = (await nodeLine([])).map(shellWord).join(" ")
  return run("bash", ["-c", `${options.assignments ?? ""} exec ${line} ${argsSource}`], options.cwd ?? repoRoot, environment(options))
}

/** Starts `ai-jobs <args>` with stdout and stderr on pipes the test reads — or closes — itself. */
export const spawnCli = async (args: ReadonlyArray<string>, options: CliOptions = {}): Promise<ChildProcess> => {
  const [file, argv] = await command(args, options)
  return spawn(file, argv, { cwd: options.cwd ?? repoRoot, env: environment(options), stdio: ["ignore", "pipe", "pipe"] })
}

/** The exit code of a started process (its signal's 128 + n if a signal ended it). */
export const exitOf = (child: ChildProcess): Promise<number> =>
  new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode)
    child.once("exit", (code, signal) => resolve(code ?? (signal === null ? -1 : 128 + (os.constants.signals[signal] ?? 0))))
  })

const shellWord = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`

/**
 * Runs `ai-jobs <args>` on a pseudo-terminal `columns` wide (util-linux
 * `script`), as a person at a terminal would. The terminal merges stdout and
 * stderr; line ends come back as `\n`.
 */
export const runCliOnTerminal = async (
  args: ReadonlyArray<string>,
  options: CliOptions & { readonly columns: number }
): Promise<CliResult> => {
  const line = (await nodeLine(args)).map(shellWord).join(" ")
  const result = await run(
    "script",
    ["--quiet", "--return", "--command", `stty cols ${options.columns} rows 50; exec ${line}`, "/dev/null"],
    options.cwd ?? repoRoot,
    { ...environment(options), TERM: options.env?.["TERM"] ?? "xterm-256color" }
  )
  return { ...result, stdout: result.stdout.replace(/\r\n/g, "\n") }
}

/** A fresh temporary directory, removed when the test process exits. */
export const tempDir = (label: string): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `hsk-cli-${label}-`))
  removeAtExit(dir)
  return dir
}

/** The non-empty lines of a text. */
export const lines = (text: string): Array<string> => text.split("\n").filter((line) => line.trim() !== "")

/** The widest line of a text, in characters (`→` is one). */
export const widest = (text: string): number => Math.max(0, ...text.split("\n").map((line) => [...line].length))

// eslint-disable-next-line no-control-regex
export const ANSI = /\x1b\[[0-9;]*[A-Za-z]/
