/**
 * A throwaway PgBouncer in front of a test server (Debian's `pgbouncer`
 * package; `.ci/run` installs it): a transaction-mode pool by default, the
 * mode a team server most often puts between its workers and PostgreSQL,
 * where consecutive statements of one client connection may run on
 * different server connections.
 *
 * Plain Node module (no vitest dependency), like postgres-cluster.ts.
 */
import { execFile } from "node:child_process"
import { existsSync, readFileSync, rmSync } from "node:fs"
import { chown, mkdtemp, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { atLocalPort, findFreePort } from "./postgres-cluster.js"

const execFileAsync = promisify(execFile)

const INSTALL_HINT = "Install it with `apt-get install pgbouncer` (.ci/run does), or put a `pgbouncer` binary on PATH."

export interface Pooler {
  /** `url` with its host and port replaced by the pooler's. */
  readonly through: (url: string) => string
  /** Server connections the pooler holds open per database and user (its `default_pool_size`). */
  readonly poolSize: number
  /** Stops the pooler and deletes its directory. Safe to call twice. */
  readonly stop: () => Promise<void>
}

export interface PoolerOptions {
  readonly mode?: "transaction" | "session"
  readonly poolSize?: number
  /** Let the store's startup timeouts through by ignoring them (default true); false: PgBouncer refuses them. */
  readonly ignoreStartupTimeouts?: boolean
  /**
   * Also ignore the `options` startup parameter (default false, as the README
   * configures PgBouncer): what a user adds when 1.18 refuses it — its
   * `-c` settings then never reach the server.
   */
  readonly ignoreOptions?: boolean
}

/** `pgbouncer` on PATH or where Debian puts it. */
export const findPgBouncer = (): string => {
  const dirs = [...(process.env["PATH"] ?? "").split(":").filter((d) => d !== ""), "/usr/sbin"]
  for (const dir of dirs) {
    const bin = join(dir, "pgbouncer")
    if (existsSync(bin)) return bin
  }
  throw new Error(`pgbouncer not found on PATH or in /usr/sbin. ${INSTALL_HINT}`)
}

// PgBouncer refuses to run as root, as the server does: run it as `postgres` then.
const asRoot = process.getuid?.() === 0
const command = (bin: string, args: ReadonlyArray<string>): [string, Array<string>] =>
  asRoot ? ["runuser", ["-u", "postgres", "--", bin, ...args]] : [bin, [...args]]

/** Starts a pooler in front of the server of `serverUrl` (trust auth, user `postgres`); the caller must `stop()` it. */
export async function startPgBouncer(serverUrl: string, options: PoolerOptions = {}): Promise<Pooler> {
  const bin = findPgBouncer()
  const server = new URL(serverUrl)
  const dir = await mkdtemp(join(tmpdir(), "hsk-pgbouncer-"))
  const pidFile = join(dir, "pid")
  const logFile = join(dir, "log")
  const poolSize = options.poolSize ?? 4
  const stopNow = () => {
    try {
      const pid = Number(readFileSync(pidFile, "utf8").trim())
      if (pid > 0) process.kill(pid, "SIGINT")
    } catch {
      // not running
    }
  }
  const onExit = () => stopNow()
  process.prependListener("exit", onExit)
  try {
    const port = await findFreePort()
    await writeFile(join(dir, "users.txt"), `"postgres" ""\n`)
    await writeFile(
      join(dir, "pgbouncer.ini"),
      [
        "[databases]",
        `* = host=${server.hostname} port=${server.port}`,
        "[pgbouncer]",
        "listen_addr = 127.0.0.1",
        `listen_port = ${port}`,
        "unix_socket_dir =",
        "auth_type = trust",
        `auth_file = ${join(dir, "users.txt")}`,
        `pool_mode = ${options.mode ?? "transaction"}`,
        `default_pool_size = ${poolSize}`,
        "max_client_conn = 500",
        // What pg sends at startup beyond what PgBouncer 1.18 passes on: the store's
        // timeouts. Ignored here, they never reach the server (see the test using this).
        `ignore_startup_parameters = extra_float_digits${options.ignoreStartupTimeouts === false ? "" : ",statement_timeout,idle_in_transaction_session_timeout"}${
          options.ignoreOptions === true ? ",options" : ""
        }`,
        `logfile = ${logFile}`,
        `pidfile = ${pidFile}`
      ].join("\n") + "\n"
    )
    if (asRoot) {
      const [uid, gid] = await Promise.all(["-u", "-g"].map(async (flag) => Number((await execFileAsync("id", [flag, "postgres"])).stdout.trim())))
      for (const file of [dir, join(dir, "users.txt"), join(dir, "pgbouncer.ini")]) await chown(file, uid!, gid!)
    }
    const [file, argv] = command(bin, ["-d", join(dir, "pgbouncer.ini")])
    await execFileAsync(file, argv)
    // -d returns once the daemon forked; wait until it accepts connections.
    const deadline = Date.now() + 10_000
    while (!existsSync(pidFile) || !(await accepts(port))) {
      if (Date.now() > deadline) {
        const log = existsSync(logFile) ? readFileSync(logFile, "utf8") : "(no log)"
        throw new Error(`pgbouncer did not start on port ${port}:\n${log}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    let stopped = false
    return {
      poolSize,
      through: (url) => atLocalPort(url, port),
      stop: async () => {
        if (stopped) return
        stopped = true
        process.off("exit", onExit)
        stopNow()
        // Gone when its pid file is.
        const until = Date.now() + 5_000
        while (existsSync(pidFile) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20))
        rmSync(dir, { recursive: true, force: true })
      }
    }
  } catch (error) {
    stopNow()
    process.off("exit", onExit)
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
}

/** Whether something listens on the loopback port. */
const accepts = (port: number): Promise<boolean> =>
  import("node:net").then((net) =>
    new Promise((resolve) => {
      const socket = net.connect(port, "127.0.0.1")
      socket.once("connect", () => {
        socket.destroy()
        resolve(true)
      })
      socket.once("error", () => resolve(false))
    })
  )

