/**
 * The real `ai-jobs` against PostgreSQL (a fresh database on the test
 * cluster): migrate, the demo, inspection as JSON, and an unreachable server.
 */
import * as net from "node:net"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import type { AiJob } from "../../src/domain/AiJob.js"
import { dropDatabase, freshDatabaseUrl } from "../support/pg-database.js"
import { type CliResult, lines, runCli } from "./cli.js"
import { allJobs } from "./fixtures.js"

let url = ""
let migrate: CliResult
let demo: CliResult
let jobs: ReadonlyArray<AiJob> = []

const parseJson = <A>(result: CliResult): A => {
  assert.strictEqual(result.code, 0, result.stderr)
  return JSON.parse(result.stdout) as A
}

/** A loopback port nothing listens on: bound, then released. */
const closedPort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 1))
    })
  })

beforeAll(async () => {
  url = await freshDatabaseUrl("cli")
  // DATABASE_URL is the other way to name the database.
  migrate = await runCli(["migrate"], { env: { DATABASE_URL: url } })
  demo = await runCli(["demo", "--database", url])
  jobs = await allJobs(url)
}, 120_000)

afterAll(() => dropDatabase(url))

describe("ai-jobs on PostgreSQL", () => {
  it("R17 migrate (database from DATABASE_URL) and demo succeed; the demo's timeline shows workflow_recovery", () => {
    assert.strictEqual(migrate.code, 0, migrate.stderr)
    assert.match(migrate.stdout, /\(pg\) is migrated: the schema is up to date\./)
    assert.strictEqual(demo.code, 0, demo.stderr)
    assert.match(demo.stdout, /durable, auditable AI jobs on PostgreSQL/)
    assert.match(demo.stdout, /workflow_recovery\s+system\s+\w{8}\s+running→stalled/)
    assert.strictEqual(jobs.length, 5)
  })

  describe.concurrent("commands", { timeout: 120_000 }, () => {
    it("R5 jobs list --json and jobs show --json give the encoded jobs, runs and nodes", async () => {
      const failed = jobs.find((job) => job.state === "failed")
      assert.isDefined(failed)
      const [list, show] = await Promise.all([
        runCli(["jobs", "list", "--json", "--database", url]),
        runCli(["jobs", "show", failed?.job_id ?? "", "--json", "--database", url])
      ])
      assert.deepStrictEqual(parseJson<Array<{ job_id: string }>>(list).map((job) => job.job_id), jobs.map((job) => job.job_id))
      const detail = parseJson<{ job: { state: string }; runs: Array<{ nodes: Array<{ node_id: string; status: string }> }> }>(show)
      assert.strictEqual(detail.job.state, "failed")
      assert.deepStrictEqual(detail.runs[0]?.nodes.map((node) => `${node.node_id}:${node.status}`), ["plan:completed", "exec:failed"])
    })

    it("R9 events --type workflow_recovery --json and recover", async () => {
      const [events, recover] = await Promise.all([
        runCli(["events", "--type", "workflow_recovery", "--json", "--database", url]),
        runCli(["recover", "--threshold", "45", "--database", url])
      ])
      const recovered = parseJson<Array<{ type: string; to_state: string }>>(events)
      assert.deepStrictEqual(recovered.map((event) => [event.type, event.to_state]), [["workflow_recovery", "stalled"]])
      assert.strictEqual(recover.code, 0, recover.stderr)
      assert.strictEqual(recover.stdout.trim(), "Recovered 0 stalled run(s) (threshold 45s).")
    })

    it("R18 issue 12.6 prune --dry-run counts the terminal and failed jobs", async () => {
      const result = parseJson<{ pruned: number; scanned: number }>(await runCli(["prune", "--older-than", "0s", "--keep", "0", "--dry-run", "--json", "--database", url]))
      assert.deepStrictEqual([result.scanned, result.pruned], [5, 5])
    })

    it("R17 an unreachable server is an operational failure: exit 1, one line, no password", async () => {
      const port = await closedPort()
      const result = await runCli(["jobs", "list", "--database", `postgres://postgres:s3cret@127.0.0.1:${port}/jobs`])
      assert.strictEqual(result.code, 1, result.stderr)
      assert.strictEqual(result.stdout, "")
      const errorLines = lines(result.stderr)
      assert.strictEqual(errorLines.length, 1, result.stderr)
      assert.match(errorLines[0] ?? "", new RegExp(`^error: cannot open database postgres://postgres:\\*\\*\\*@127\\.0\\.0\\.1:${port}/jobs: .*ECONNREFUSED`))
      assert.notInclude(result.stderr, "s3cret")
    })
  })
})
