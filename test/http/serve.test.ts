/**
 * `ai-jobs serve` (issue 17.3) as an operator runs it: a subprocess on a
 * loopback port, over SQLite and PostgreSQL; the token rules it enforces
 * before it listens.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as net from "node:net"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import { pastClock } from "../../src/cli/demo/pastClock.js"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as Storage from "../../src/store/DatabaseUrl.js"
import { runCli, tempDir } from "../cli/cli.js"
import { dropDatabase, freshDatabaseUrl } from "../support/pg-database.js"
import { summarize } from "../jobs/jobs.suite.js"
import { services } from "../jobs/services.js"
import { get, healthAfterRecovery, onStore, startServe, submitJob } from "./serveProcess.js"

const TOKEN = "serve-test-token-0123456789"

let sqlite = ""
let pg = ""

beforeAll(async () => {
  sqlite = path.join(tempDir("serve"), "jobs.db")
  pg = await freshDatabaseUrl("serve")
  // Migrated in process: fewer CLI subprocesses on a busy machine.
  await onStore(sqlite, Effect.void)
  await onStore(pg, Effect.void)
}, 120_000)

afterAll(() => dropDatabase(pg))

describe("ai-jobs serve", { timeout: 180_000 }, () => {
  it("17.3 refuses a non-loopback host without a token, and a token under 16 characters (exit 2, one line)", async () => {
    const [open, short, shortEnv] = await Promise.all([
      runCli(["serve", "--host", "0.0.0.0", "--port", "0", "--database", sqlite]),
      runCli(["serve", "--port", "0", "--token", "tooshort", "--database", sqlite]),
      runCli(["serve", "--host", "::", "--port", "0", "--database", sqlite], { env: { AI_JOBS_TOKEN: "short" } })
    ])
    assert.strictEqual(open.code, 2, open.stdout + open.stderr)
    assert.match(open.stderr, /^error: refusing to serve on 0\.0\.0\.0 without a token/)
    assert.strictEqual(open.stdout, "")
    assert.strictEqual(short.code, 2)
    assert.match(short.stderr, /--token: the token must be at least 16 characters/)
    assert.strictEqual(shortEnv.code, 2)
    assert.match(shortEnv.stderr, /AI_JOBS_TOKEN: the token must be at least 16 characters/)
    // The bound is 16 exactly: 15 characters are refused; 16 pass to the database (missing here: exit 1, not 2).
    const missing = `sqlite:${path.join(tempDir("serve-token"), "absent.db")}?mode=rw`
    const [fifteen, sixteen] = await Promise.all([
      runCli(["serve", "--port", "0", "--token", "x".repeat(15), "--database", missing]),
      runCli(["serve", "--port", "0", "--token", "x".repeat(16), "--database", missing])
    ])
    assert.strictEqual(fifteen.code, 2, fifteen.stderr)
    assert.match(fifteen.stderr, /^error: bad --token: the token must be at least 16 characters long/)
    assert.strictEqual(sixteen.code, 1, sixteen.stderr)
    assert.notMatch(sixteen.stderr, /--token/)
  })

  it("17.3 README loopback is any of them: --host localhost, 127.0.0.2 (all 127.0.0.0/8) and ::1 without a token serve, each printing a URL a browser opens (an IPv6 address in brackets)", async () => {
    const servers = await Promise.all(["localhost", "127.0.0.2", "::1"].map((host) => startServe(["--host", host, "--database", sqlite])))
    try {
      // localhost is printed as the address it resolved to; new URL throws on an IPv6 address without brackets.
      const [localhost, second, v6] = servers.map((served) => new URL(served.url).hostname)
      assert.include(["127.0.0.1", "[::1]"], localhost)
      assert.deepStrictEqual([second, v6], ["127.0.0.2", "[::1]"])
      for (const served of servers) assert.strictEqual((await healthAfterRecovery(served.url)).status, 200, served.url)
    } finally {
      await Promise.all(servers.map((served) => served.stop()))
    }
  })

  it("17.3 on loopback without a token it makes one and prints it in the console link; the API takes only that token", async () => {
    const served = await startServe(["--database", sqlite])
    try {
      assert.match(served.url, /^http:\/\/127\.0\.0\.1:\d+\/$/)
      const token = decodeURIComponent(/#token=(.+)$/.exec(served.consoleLink)?.[1] ?? "")
      assert.isAtLeast(token.length, 32)
      assert.strictEqual((await healthAfterRecovery(served.url)).status, 200)
      assert.strictEqual((await get(`${served.url}jobs`)).status, 401)
      assert.strictEqual((await get(`${served.url}jobs`, TOKEN)).status, 401)
      const jobs = await get(`${served.url}jobs`, token)
      assert.strictEqual(jobs.status, 200)
      assert.deepStrictEqual(await jobs.json(), { items: [], next_cursor: null })
      const root = await get(served.url)
      assert.deepStrictEqual([root.status, root.headers.get("location")], [302, "/console/"])
      const page = await get(`${served.url}console/`)
      assert.strictEqual(page.status, 200)
      assert.include(await page.text(), "<script type=\"module\" src=\"app.js\"></script>")
    } finally {
      assert.strictEqual(await served.stop(), 130, "Ctrl-C stops it")
    }
  })

  it("R17 17.3 a URL of ~16 kB (headers over Node's maxHeaderSize) is 431 RequestHeaderFieldsTooLarge with the API's JSON error body, not Node's bare 431; a request Node cannot parse is still Node's bodiless 400, with the API's answer headers (Cache-Control: no-store, nosniff)", async () => {
    const served = await startServe(["--database", sqlite], { AI_JOBS_TOKEN: TOKEN })
    try {
      const long = await get(`${served.url}jobs?state=${"q".repeat(16_500)}`, TOKEN)
      const text = await long.text()
      assert.deepStrictEqual([long.status, long.headers.get("content-type")], [431, "application/json"], text)
      const body = JSON.parse(text) as Record<string, unknown>
      assert.deepStrictEqual(body, {
        _tag: "RequestHeaderFieldsTooLarge",
        limit_bytes: 16_384,
        message: "The request line and headers exceed 16384 bytes: send a shorter URL or fewer headers"
      })
      const port = Number(new URL(served.url).port)
      const garbage = await new Promise<string>((resolve) => {
        let received = ""
        const socket = net.connect(port, "127.0.0.1", () => socket.write("NOT HTTP AT ALL\r\n\r\n"))
        socket.on("data", (chunk: Buffer) => received += chunk.toString("utf8"))
        socket.on("close", () => resolve(received))
        socket.on("error", () => resolve(received))
      })
      // Found by an outside probe: this answer alone lacked the headers every other answer carries.
      assert.strictEqual(garbage, "HTTP/1.1 400 Bad Request\r\ncache-control: no-store\r\nx-content-type-options: nosniff\r\nConnection: close\r\n\r\n")
      // The server still answers.
      assert.strictEqual((await get(`${served.url}jobs?state=queued`, TOKEN)).status, 200)
    } finally {
      await served.stop()
    }
  })

  it("17.3 with AI_JOBS_TOKEN it requires that token and never prints it; on PostgreSQL too", async () => {
    const served = await startServe(["--database", pg], { AI_JOBS_TOKEN: TOKEN })
    try {
      assert.notInclude(served.output(), TOKEN)
      assert.match(served.output(), /\(pg\)/)
      const health = await healthAfterRecovery(served.url)
      assert.deepStrictEqual([health.status, health.body["status"], health.body["recovery"]], [200, "ok", "finished"])
      const submit = await submitJob(served.url, TOKEN, "hsk.serve.v1")
      assert.strictEqual(submit.status, 201)
      const spec = await get(`${served.url}openapi.json`, TOKEN)
      assert.strictEqual(spec.status, 200)
      assert.strictEqual(((await spec.json()) as { info: { title: string } }).info.title, "Handshake AI Jobs")
    } finally {
      await served.stop()
    }
    const stored = await onStore(pg, Effect.flatMap(JobStore, (store) => store.listJobs()))
    assert.deepStrictEqual(stored.items.map((job) => job.protocol_id), ["hsk.serve.v1"], "the job submitted over HTTP is in the database")
  })

  it("R9 serve on a database a crashed worker left: startup recovery's one log line goes to stderr; stdout keeps only the address and the link", async () => {
    const crashed = path.join(tempDir("serve-crashed"), "jobs.db")
    // A worker claimed a job five minutes ago and died: its run's last heartbeat is that old.
    await Effect.runPromise(Effect.gen(function*() {
      const jobs = yield* Jobs
      yield* jobs.submit(summarize())
      yield* jobs.claimNext()
    }).pipe(Effect.withClock(pastClock("5 minutes")), Effect.provide(services(Storage.layerFromUrl(crashed)))))
    const served = await startServe(["--database", crashed], { AI_JOBS_TOKEN: TOKEN })
    try {
      assert.deepStrictEqual((await healthAfterRecovery(served.url)).body["recovery"], "finished")
      // Logged once recovery has ended: wait for the line (the process writes it before /health says finished).
      const deadline = Date.now() + 10_000
      while (!served.stderr().includes("startup recovery") && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
      assert.include(served.stderr(), "INFO")
      assert.include(served.stderr(), "startup recovery: stalled 1 workflow run(s) whose heartbeat was older than 30s")
      assert.notInclude(served.stdout(), "recovery")
    } finally {
      // Stopped as a service manager stops it: 128 + 15, as a shell reports a process SIGTERM ended.
      assert.strictEqual(await served.stop("SIGTERM"), 143)
    }
  })

  it("17.3 a database that does not exist, or a port in use, is one line and exit 1", async () => {
    const [missing, highestPort, first] = await Promise.all([
      runCli(["serve", "--port", "0", "--database", path.join(tempDir("serve-missing"), "none.db")]),
      // 65535 is a port: the refusal is the database's.
      runCli(["serve", "--port", "65535", "--database", path.join(tempDir("serve-missing"), "none.db")]),
      startServe(["--database", sqlite], { AI_JOBS_TOKEN: TOKEN })
    ])
    for (const refused of [missing, highestPort]) {
      assert.strictEqual(refused.code, 1, refused.stderr)
      assert.match(refused.stderr, /^error: no SQLite database at .*none\.db; create it with: ai-jobs migrate/)
    }
    try {
      const port = new URL(first.url).port
      const busy = await runCli(["serve", "--port", port, "--database", sqlite], { env: { AI_JOBS_TOKEN: TOKEN } })
      assert.strictEqual(busy.code, 1)
      assert.match(busy.stderr, new RegExp(`^error: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`))
    } finally {
      await first.stop()
    }
  })
})
