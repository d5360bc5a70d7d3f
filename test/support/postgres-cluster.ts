/**
 * Throwaway PostgreSQL cluster for tests: `initdb` a temp data directory,
 * start a server on a free loopback port, and remove everything on stop.
 *
 * Plain Node module (no vitest dependency) so it can also be used from
 * scripts and benchmarks.
 */
import { execFile, execFileSync } from "node:child_process"
import { existsSync, readdirSync, rmSync, statSync } from "node:fs"
import { chown, mkdir, mkdtemp, readFile } from "node:fs/promises"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"

const execFileAsync = promisify(execFile)

export interface ThrowawayCluster {
  /** Admin URL (superuser `postgres`, database `postgres`, trust auth). */
  readonly url: string
  /** Stops the server and deletes its directory. Safe to call twice. */
  readonly stop: () => Promise<void>
}

export interface PostgresBinaries {
  readonly initdb: string
  readonly pgCtl: string
}

const INSTALL_HINT =
  "Install the PostgreSQL 15 server binaries (e.g. `apt-get install postgresql-15`, which puts initdb/pg_ctl " +
  "in /usr/lib/postgresql/15/bin) or set HSK_TEST_PG_URL to an admin URL of a server where the user may " +
  "CREATE DATABASE (e.g. postgres://postgres@127.0.0.1:5432/postgres)."

/** Finds `initdb` and `pg_ctl`: first on PATH, then in the highest /usr/lib/postgresql/<version>/bin. */
export function findPostgresBinaries(): PostgresBinaries {
  const dirs = (process.env["PATH"] ?? "").split(":").filter((d) => d !== "")
  const root = "/usr/lib/postgresql"
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => /^\d+(\.\d+)?$/.test(v))
      .sort((a, b) => Number(b) - Number(a))
    dirs.push(...versions.map((v) => join(root, v, "bin")))
  }
  for (const dir of dirs) {
    const initdb = join(dir, "initdb")
    const pgCtl = join(dir, "pg_ctl")
    if (existsSync(initdb) && existsSync(pgCtl)) return { initdb, pgCtl }
  }
  throw new Error(`PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in ${root}/*/bin. ${INSTALL_HINT}`)
}

/** Asks the kernel for a free loopback port (tiny race until the server binds it; start() retries). */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("could not determine a free port"))))
    })
  })
}

/** `url` with its host and port replaced by a local listener's (a proxy or pooler in front of the server). */
export const atLocalPort = (url: string, port: number): string => {
  const parsed = new URL(url)
  parsed.hostname = "127.0.0.1"
  parsed.port = String(port)
  return parsed.toString()
}

/**
 * initdb, postgres and pg_ctl refuse to run as root. When we are root (CI
 * containers), run them as the `postgres` system user through `runuser`.
 */
const asRoot = process.getuid?.() === 0
const RUN_AS = "postgres"

function command(bin: string, args: ReadonlyArray<string>): [string, Array<string>] {
  return asRoot ? ["runuser", ["-u", RUN_AS, "--", bin, ...args]] : [bin, [...args]]
}

async function run(bin: string, args: ReadonlyArray<string>): Promise<void> {
  const [file, argv] = command(bin, args)
  await execFileAsync(file, argv, { maxBuffer: 16 * 1024 * 1024 })
}

/** Sync variant for process-exit handlers, where async work never completes. */
function runSync(bin: string, args: ReadonlyArray<string>): void {
  const [file, argv] = command(bin, args)
  execFileSync(file, argv, { stdio: "ignore", timeout: 15_000 })
}

/** Root of the temp dirs. As root it must be traversable by the postgres user, or the server cannot reach its data dir. */
function tempRoot(): string {
  const candidates = [tmpdir(), "/tmp"]
  for (const dir of candidates) {
    if (!asRoot) return dir
    try {
      if ((statSync(dir).mode & 0o001) !== 0) return dir
    } catch {
      // try the next candidate
    }
  }
  throw new Error(`None of ${candidates.join(", ")} is traversable by the '${RUN_AS}' user; set TMPDIR to a world-traversable directory.`)
}

async function idOf(flag: "-u" | "-g"): Promise<number> {
  const { stdout } = await execFileAsync("id", [flag, RUN_AS])
  return Number(stdout.trim())
}

async function logTail(logFile: string, lines = 40): Promise<string> {
  try {
    return (await readFile(logFile, "utf8")).split("\n").slice(-lines).join("\n")
  } catch {
    return "(no server log)"
  }
}

// execFile errors already carry the command and its stderr in `message`.
const errorText = (error: unknown): string => (error instanceof Error ? error.message.trim() : String(error))

/** Starts a fresh, empty PostgreSQL cluster. The caller must call `stop()` (exit/signal handlers are only a safety net). */
export async function startThrowawayCluster(): Promise<ThrowawayCluster> {
  const bins = findPostgresBinaries()
  const base = await mkdtemp(join(tempRoot(), "hsk-pg-"))
  const dataDir = join(base, "data")
  const sockDir = join(base, "sock")
  const logFile = join(base, "log")

  // A postmaster.pid means a server may be up (also after a timed-out `pg_ctl start`).
  const maybeRunning = (): boolean => existsSync(join(dataDir, "postmaster.pid"))
  const stopSync = (): void => {
    // Exit/signal/failure path: "immediate" is fine, the data is thrown away anyway.
    if (maybeRunning()) {
      try {
        runSync(bins.pgCtl, ["-D", dataDir, "-m", "immediate", "-w", "stop"])
      } catch {
        // best effort
      }
    }
    try {
      rmSync(base, { recursive: true, force: true })
    } catch {
      // best effort
    }
  }
  const onExit = (): void => stopSync()
  const onSignal = (signal: NodeJS.Signals): void => {
    stopSync()
    removeHandlers()
    // Re-raise only if nobody else handles the signal, so the default (terminate) still happens.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal)
  }
  const removeHandlers = (): void => {
    process.off("exit", onExit)
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
  }
  // Prepend: vitest's own SIGINT/exit listeners call process.exit(), which skips any listener after them.
  process.prependListener("exit", onExit)
  process.prependOnceListener("SIGINT", onSignal)
  process.prependOnceListener("SIGTERM", onSignal)

  try {
    await mkdir(dataDir)
    await mkdir(sockDir)
    if (asRoot) {
      // mkdtemp creates a 0700 root-owned dir: hand the whole tree to the server's user.
      const [uid, gid] = await Promise.all([idOf("-u"), idOf("-g")])
      for (const dir of [base, dataDir, sockDir]) await chown(dir, uid, gid)
    }

    try {
      await run(bins.initdb, ["-D", dataDir, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"])
    } catch (error) {
      throw new Error(`initdb failed: ${errorText(error)}`)
    }

    // Free-port lookup and bind are not atomic: retry a few times on a lost race.
    let lastError: unknown
    for (let attempt = 1; attempt <= 3; attempt++) {
      const port = await findFreePort()
      const serverOptions = [
        `-p ${port}`,
        `-k ${sockDir}`,
        "-c listen_addresses=127.0.0.1",
        // Durability is pointless for a throwaway test cluster and costs a lot of time; never do this in production.
        "-c fsync=off",
        "-c synchronous_commit=off",
        "-c full_page_writes=off",
        // Parallel test files each open pools.
        "-c max_connections=200"
      ].join(" ")
      try {
        await run(bins.pgCtl, ["-D", dataDir, "-w", "-t", "60", "-l", logFile, "-o", serverOptions, "start"])
        const url = `postgres://postgres@127.0.0.1:${port}/postgres`
        const stop = async (): Promise<void> => {
          removeHandlers()
          if (maybeRunning()) {
            try {
              await run(bins.pgCtl, ["-D", dataDir, "-m", "fast", "-w", "stop"])
            } catch {
              // already gone; still remove the directory
            }
          }
          rmSync(base, { recursive: true, force: true })
        }
        return { url, stop }
      } catch (error) {
        lastError = error
        const log = await logTail(logFile)
        if (!/could not bind|address already in use/i.test(log)) break
      }
    }
    throw new Error(
      `PostgreSQL server failed to start: ${errorText(lastError)}\n--- server log (tail) ---\n${await logTail(logFile)}`
    )
  } catch (error) {
    stopSync()
    removeHandlers()
    throw error
  }
}
