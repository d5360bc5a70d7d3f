/**
 * A throwaway PostgreSQL cluster for benchmarks: the same approach as
 * test/support/postgres-cluster.ts (initdb into a temp dir, start on a free
 * loopback port, remove everything on stop) but with durable settings —
 * fsync, synchronous_commit and full_page_writes stay on, because figures
 * measured without them would say nothing about a real server.
 */
import { execFile, execFileSync } from "node:child_process"
import { existsSync, realpathSync, rmSync, statSync } from "node:fs"
import { chown, mkdir, mkdtemp } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { promisify } from "node:util"
import pg from "pg"
import { findFreePort, findPostgresBinaries } from "../test/support/postgres-cluster.js"

const execFileAsync = promisify(execFile)
const asRoot = process.getuid?.() === 0
const RUN_AS = "postgres"

/**
 * Whether the installed server ships pg_stat_statements (its library and its
 * extension files, found through the cluster's own `pg_config`).
 */
const hasPgStatStatements = (initdb: string): boolean => {
  try {
    // initdb on PATH may be a symlink into the version's own bin directory, where pg_config is.
    const ask = (flag: string) => execFileSync(join(dirname(realpathSync(initdb)), "pg_config"), [flag], { encoding: "utf8" }).trim()
    return existsSync(join(ask("--pkglibdir"), "pg_stat_statements.so")) &&
      existsSync(join(ask("--sharedir"), "extension", "pg_stat_statements.control"))
  } catch {
    return false
  }
}

/** Whether this server can load pg_stat_statements (the statements section counts with it). */
export const PG_STAT_STATEMENTS = hasPgStatStatements(findPostgresBinaries().initdb)

/** Server settings the benchmark runs with (reported in BENCHMARKS.md). Durability settings are left at their defaults. */
export const SERVER_SETTINGS: ReadonlyArray<readonly [string, string]> = [
  ["max_connections", "200"],
  ["shared_buffers", "512MB"],
  // Fewer forced checkpoints while the 1M-row fixtures load; durability is unchanged.
  ["max_wal_size", "4GB"]
]

/**
 * The extra setting of the statements section's own cluster, which counts
 * statements on the server; the cluster every timed figure runs on does
 * without (pg_stat_statements costs every statement a little).
 */
export const COUNTING_SETTINGS: ReadonlyArray<readonly [string, string]> = [["shared_preload_libraries", "pg_stat_statements"]]

/** A running benchmark cluster. */
export interface BenchCluster {
  /** Admin URL (superuser `postgres`, database `postgres`). */
  readonly url: string
  /** URL of a new, empty database on this cluster. */
  readonly createDatabase: (name: string) => Promise<string>
  /** The server's log file (gone once the cluster is stopped). */
  readonly logFile: string
  readonly stop: () => Promise<void>
}

const command = (bin: string, args: ReadonlyArray<string>): [string, Array<string>] =>
  asRoot ? ["runuser", ["-u", RUN_AS, "--", bin, ...args]] : [bin, [...args]]

const run = async (bin: string, args: ReadonlyArray<string>): Promise<void> => {
  const [file, argv] = command(bin, args)
  await execFileAsync(file, argv, { maxBuffer: 16 * 1024 * 1024 })
}

const tempRoot = (): string => {
  for (const dir of [tmpdir(), "/tmp"]) {
    // As root, the postgres user must be able to traverse the parent directory.
    if (!asRoot || (statSync(dir).mode & 0o001) !== 0) return dir
  }
  throw new Error("no temp directory the postgres user can traverse; set TMPDIR")
}

/** initdb + start a cluster with durable settings (and `extraSettings`). The caller must `stop()` it. */
export const startBenchCluster = async (extraSettings: ReadonlyArray<readonly [string, string]> = []): Promise<BenchCluster> => {
  const bins = findPostgresBinaries()
  const base = await mkdtemp(join(tempRoot(), "hsk-bench-pg-"))
  const dataDir = join(base, "data")
  const sockDir = join(base, "sock")
  await mkdir(dataDir)
  await mkdir(sockDir)
  if (asRoot) {
    const uid = Number((await execFileAsync("id", ["-u", RUN_AS])).stdout.trim())
    const gid = Number((await execFileAsync("id", ["-g", RUN_AS])).stdout.trim())
    for (const dir of [base, dataDir, sockDir]) await chown(dir, uid, gid)
  }
  const stopSync = (): void => {
    try {
      const [file, argv] = command(bins.pgCtl, ["-D", dataDir, "-m", "immediate", "-w", "stop"])
      execFileSync(file, argv, { stdio: "ignore", timeout: 15_000 })
    } catch {
      // not running
    }
    rmSync(base, { recursive: true, force: true })
  }
  // On Ctrl-C or kill, stop the server too (an `exit` listener alone does not run on signals).
  const onSignal = (signal: NodeJS.Signals): void => {
    stopSync()
    process.exit(signal === "SIGINT" ? 130 : 143)
  }
  process.once("exit", stopSync)
  process.once("SIGINT", onSignal)
  process.once("SIGTERM", onSignal)
  let port = 0
  try {
    await run(bins.initdb, ["-D", dataDir, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C"])
    port = await findFreePort()
    const options = [
      `-p ${port}`,
      `-k ${sockDir}`,
      "-c listen_addresses=127.0.0.1",
      ...[...SERVER_SETTINGS, ...extraSettings].map(([name, value]) => `-c ${name}=${value}`)
    ].join(" ")
    await run(bins.pgCtl, ["-D", dataDir, "-w", "-t", "60", "-l", join(base, "log"), "-o", options, "start"])
  } catch (error) {
    stopSync()
    process.off("exit", stopSync)
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
    throw error
  }
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`
  return {
    url,
    logFile: join(base, "log"),
    createDatabase: async (name) => {
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}"`)
        await client.query(`CREATE DATABASE "${name}"`)
      } finally {
        await client.end()
      }
      return url.replace(/\/postgres$/, `/${name}`)
    },
    stop: async () => {
      process.off("exit", stopSync)
      process.off("SIGINT", onSignal)
      process.off("SIGTERM", onSignal)
      try {
        await run(bins.pgCtl, ["-D", dataDir, "-m", "fast", "-w", "stop"])
      } finally {
        rmSync(base, { recursive: true, force: true })
      }
    }
  }
}
