/**
 * The real `ai-jobs` against PostgreSQL (a fresh database on the test
 * cluster): migrate, the demo, inspection as JSON, read commands as a role
 * that may only read, and an unreachable server.
 */
import * as net from "node:net"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import type { AiJob } from "../../src/domain/AiJob.js"
import { connectPg, dropDatabase, freshDatabaseUrl, pgAdminUrl } from "../support/pg-database.js"
import { type CliResult, lines, runCli, runCliWithBytes, tempDir } from "./cli.js"
import { allJobs, eventsOf } from "./fixtures.js"
import { assertOneLineError } from "./operator.suite.js"

let url = ""
let migrate: CliResult
let demo: CliResult
let jobs: ReadonlyArray<AiJob> = []

const parseJson = <A>(result: CliResult): A => {
  assert.strictEqual(result.code, 0, result.stderr)
  return JSON.parse(result.stdout) as A
}

/** The URL of `url`'s database for a new role that may connect and SELECT, nothing more. */
const readOnlyRole = async (url: string): Promise<string> => {
  const role = `hsk_reader_${Math.random().toString(36).slice(2, 10)}`
  roles.push(role)
  const client = await connectPg(url)
  try {
    const database = decodeURIComponent(new URL(url).pathname.slice(1))
    await client.query(`CREATE ROLE ${role} LOGIN PASSWORD 'reader'`)
    await client.query(`GRANT CONNECT ON DATABASE "${database}" TO ${role}`)
    await client.query(`GRANT USAGE ON SCHEMA public TO ${role}`)
    await client.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role}`)
  } finally {
    await client.end()
  }
  const reader = new URL(url)
  reader.username = role
  reader.password = "reader"
  return reader.toString()
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

const roles: Array<string> = []

afterAll(async () => {
  await dropDatabase(url)
  // Roles belong to the whole server: drop the ones made here once their database is gone.
  const admin = await connectPg(pgAdminUrl())
  try {
    for (const role of roles) await admin.query(`DROP ROLE IF EXISTS ${role}`)
  } finally {
    await admin.end()
  }
})

describe("ai-jobs on PostgreSQL", () => {
  it("R17 migrate (database from DATABASE_URL) and demo succeed; the demo's timeline shows workflow_recovery", () => {
    assert.strictEqual(migrate.code, 0, migrate.stderr)
    assert.match(migrate.stdout, /\(pg\) is migrated: the schema is up to date\. Applied: schema version \d+ \(the database had none of ours/)
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
        runCli(["jobs", "list", "--order", "oldest", "--json", "--database", url]),
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

    it("R17 the demo never writes into the PostgreSQL database DATABASE_URL names: it runs on its own SQLite file", async () => {
      const before = await allJobs(url)
      const dir = tempDir("pg-demo-env")
      const result = await runCli(["demo"], { cwd: dir, env: { DATABASE_URL: url } })
      assert.strictEqual(result.code, 0, result.stderr)
      assert.match(result.stdout, /durable, auditable AI jobs on SQLite/)
      assert.deepStrictEqual((await allJobs(url)).map((job) => job.job_id), before.map((job) => job.job_id))
      assert.strictEqual((await allJobs(path.join(dir, "data", "demo.db"))).length, 5)
    })

    it("R17 read commands work for a role that may only read; an action with it is refused and changes nothing", async () => {
      const failed = jobs.find((job) => job.state === "failed")
      assert.isDefined(failed)
      const reader = await readOnlyRole(url)
      const [list, show, events] = await Promise.all([
        runCli(["jobs", "list", "--json", "--database", reader]),
        runCli(["jobs", "show", failed?.job_id.slice(-8) ?? "", "--database", reader]),
        runCli(["events", "--job", failed?.job_id.slice(0, 18) ?? "", "--json", "--database", reader])
      ])
      assert.sameMembers(parseJson<Array<{ job_id: string }>>(list).map((job) => job.job_id), jobs.map((job) => job.job_id))
      assert.strictEqual(show.code, 0, show.stderr)
      assert.match(show.stdout, /state\s+failed/)
      assert.strictEqual(parseJson<Array<unknown>>(events).length, (await eventsOf(url, failed?.job_id ?? "")).length)
      const eventsBefore = (await eventsOf(url, failed?.job_id ?? "")).length
      assertOneLineError(
        await runCli(["jobs", "retry", failed?.job_id.slice(-8) ?? "", "--database", reader]),
        1,
        /^error: .*permission denied for table/
      )
      assert.strictEqual((await allJobs(url)).find((job) => job.job_id === failed?.job_id)?.state, "failed")
      assert.strictEqual((await eventsOf(url, failed?.job_id ?? "")).length, eventsBefore)
    })

    // Found by a regression probe: the read-on command named no database, so it read DATABASE_URL's or the default.
    it("R7 R17 a cut listing of a database given by a URL with a password reads on with that URL, its password masked and said so; given it again, the command reads the next page", async () => {
      const reader = await readOnlyRole(url)
      const masked = reader.replace(":reader@", ":***@")
      const first = await runCli(["jobs", "list", "--order", "oldest", "--limit", "2", "--json", "--database", reader])
      const notice = JSON.parse(first.stderr) as { rest: string; note?: string }
      assert.strictEqual(notice.rest.replace(/--cursor \S+$/, "--cursor …"), `ai-jobs jobs list --database '${masked}' --order oldest --limit 2 --json --cursor …`)
      assert.strictEqual(notice.note, "its database password shows as ***: give it in its place")
      const text = await runCli(["jobs", "list", "--order", "oldest", "--limit", "2", "--database", reader])
      assert.notInclude(text.stderr, "reader@")
      assert.match(text.stderr, /; its database password shows as \*\*\*: give it in its place\)\n$/)
      // As the operator runs it: the password given again, DATABASE_URL naming another database.
      const next = await runCliWithBytes(notice.rest.replace(":***@", ":reader@").slice("ai-jobs ".length), {
        env: { DATABASE_URL: path.join(tempDir("elsewhere"), "none.db") }
      })
      const read = [...parseJson<Array<{ job_id: string }>>(first), ...parseJson<Array<{ job_id: string }>>(next)]
      assert.deepStrictEqual(read.map((job) => job.job_id), jobs.slice(0, 4).map((job) => job.job_id))
    })

    // Found by an outside probe: after a DBA's CREATE SCHEMA named like the role (default search_path "$user", public),
    // jobs list said "not migrated" and migrate built a second, empty store in front of the deployment in public.
    it("R17 a store in public hidden by a schema named like the role: jobs list and migrate refuse in one line naming both schemas, nothing created", async () => {
      const hidden = await freshDatabaseUrl("cli-user-schema")
      try {
        assert.strictEqual((await runCli(["migrate", "--database", hidden])).code, 0)
        const client = await connectPg(hidden)
        try {
          const role = String((await client.query("SELECT current_user AS name")).rows[0]?.name)
          await client.query(`CREATE SCHEMA "${role}"`)
          const refusal = new RegExp(
            `^error: .*the search_path's first schema "${role}" holds no job store, but "public", later on the path, holds one \\(schema version \\d+\\): ` +
              `name the one to use in the URL — \\?options=-c search_path=public to use it, or \\?options=-c search_path=${role} to create a new store there; nothing was changed$`
          )
          assertOneLineError(await runCli(["jobs", "list", "--database", hidden]), 1, refusal)
          assertOneLineError(await runCli(["migrate", "--database", hidden]), 1, refusal)
          const tables = await client.query("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1", [role])
          assert.strictEqual(tables.rows[0]?.n, 0)
        } finally {
          await client.end()
        }
      } finally {
        await dropDatabase(hidden)
      }
    })

    it("R17 serve refuses a database that was never migrated (exit 1, one line saying to migrate), and creates nothing in it", async () => {
      const empty = await freshDatabaseUrl("cli-serve-unmigrated")
      try {
        const result = await runCli(["serve", "--port", "0", "--token", "serve-test-token-0123456789", "--database", empty])
        assertOneLineError(result, 1, /^error: database postgres:\/\/.* is not migrated: create its schema \(or upgrade a legacy Handshake database\) first with: ai-jobs migrate --database postgres:\/\//)
        const client = await connectPg(empty)
        try {
          const tables = await client.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
          assert.deepStrictEqual(tables.rows, [])
        } finally {
          await client.end()
        }
      } finally {
        await dropDatabase(empty)
      }
    })

    // Found by an outside probe: the hint for an unmigrated database was added to migrate's own failure.
    it("R17 a migration that fails (another application's ai_jobs table in the way) is one line that does not send the operator back to migrate", async () => {
      const shared = await freshDatabaseUrl("cli-migrate-foreign")
      try {
        const client = await connectPg(shared)
        try {
          await client.query("CREATE TABLE ai_jobs (id serial PRIMARY KEY, title text NOT NULL)")
          await client.query("INSERT INTO ai_jobs (title) VALUES ('payroll')")
        } finally {
          await client.end()
        }
        const result = await runCli(["migrate", "--database", shared])
        assertOneLineError(result, 1, /^error: .*PostgreSQL migrations? (\d{4}_\w+ )?failed/)
        assert.notInclude(result.stderr, "run: ai-jobs migrate")
      } finally {
        await dropDatabase(shared)
      }
    })

    it("R17 a migrated database whose jobs table is gone is one line that says the schema its bookkeeping records is not there (migrating again cannot make it)", async () => {
      const dropped = await freshDatabaseUrl("cli-table-gone")
      try {
        assert.strictEqual((await runCli(["migrate", "--database", dropped])).code, 0)
        const client = await connectPg(dropped)
        try {
          await client.query("DROP TABLE ai_jobs CASCADE")
        } finally {
          await client.end()
        }
        const result = await runCli(["jobs", "list", "--database", dropped])
        // The bookkeeping says migrated, so `ai-jobs migrate` would change nothing: the open says what is wrong.
        assertOneLineError(result, 1, /records this library's migrations up to \d{4}, but the schema they made is not there \(no ai_jobs table\)/)
        assert.notInclude(result.stderr, "run: ai-jobs migrate")
      } finally {
        await dropDatabase(dropped)
      }
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

    it("R17 a password given as a query parameter (?password=, which the driver reads) is never printed either", async () => {
      const port = await closedPort()
      const result = await runCli(["jobs", "list", "--database", `postgres://127.0.0.1:${port}/jobs?user=bob&password=s3cret`])
      assert.strictEqual(result.code, 1, result.stderr)
      assert.match(result.stderr, new RegExp(`^error: cannot open database postgres://127\\.0\\.0\\.1:${port}/jobs\\?user=bob&password=\\*\\*\\*: `))
      assert.notInclude(result.stderr, "s3cret")
      const unparsable = await runCli(["jobs", "list", "--database", "postgres://bob:s3cret@127.0.0.1:99999/jobs"])
      assert.strictEqual(unparsable.code, 2, unparsable.stderr)
      assert.include(unparsable.stderr, "postgres://bob:***@127.0.0.1:99999/jobs")
      assert.notInclude(unparsable.stderr, "s3cret")
    })

    // Found by an outside probe: such a password made the URL unparsable and the refusal printed it whole.
    it("R17 a DATABASE_URL whose password holds /, # or ? is refused with the password masked", async () => {
      for (const password of ["Zx9/Kq2+Lm", "p#ssWORD99", "ab?cdEF12"]) {
        const result = await runCli(["jobs", "list"], { env: { DATABASE_URL: `postgres://app:${password}@db.internal:5432/prod` } })
        assert.strictEqual(result.code, 2, result.stderr)
        assert.include(result.stderr, `error: bad DATABASE_URL: Unsupported database "postgres://app:***@db.internal:5432/prod"`)
        assert.notInclude(result.stderr + result.stdout, password)
      }
    })
  })
})
