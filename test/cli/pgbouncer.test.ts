/**
 * `ai-jobs` against PostgreSQL through a PgBouncer 1.18 in transaction mode
 * configured as the README says (its `ignore_startup_parameters` naming the
 * store's timeouts, not `options`). Every command but `migrate` first opens a
 * read-only store to check the schema; a read-only store asked for
 * `options=-c default_transaction_read_only=on` at startup, which the pooler
 * refuses: every one of them failed, `serve` included (found by a
 * multi-process chaos probe).
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import type { AiJob } from "../../src/domain/AiJob.js"
import { dropDatabase, freshDatabaseUrl, pgAdminUrl } from "../support/pg-database.js"
import { type Pooler, startPgBouncer } from "../support/pgbouncer.js"
import { startServe } from "../http/serveProcess.js"
import { type CliResult, runCli } from "./cli.js"
import { jobOf, migratedByCli, queuedJob, stalledJob } from "./fixtures.js"

let pooler: Pooler
let url = ""
/** `url` through the pooler. */
let pooled = ""
let queued: AiJob
let stalled: AiJob

beforeAll(async () => {
  pooler = await startPgBouncer(pgAdminUrl(), { poolSize: 3 })
  url = await freshDatabaseUrl("cli-pgbouncer")
  await migratedByCli(url)
  queued = await queuedJob(url)
  stalled = await stalledJob(url)
  pooled = pooler.through(url)
}, 120_000)

afterAll(async () => {
  await pooler?.stop()
  await dropDatabase(url)
})

const succeeded = (result: CliResult): CliResult => {
  assert.strictEqual(result.code, 0, result.stderr)
  return result
}

const json = <A>(result: CliResult): A => JSON.parse(succeeded(result).stdout) as A

describe("ai-jobs behind PgBouncer in transaction mode (R10, R17)", () => {
  it("jobs list, jobs show and events read through it", async () => {
    const listed = json<ReadonlyArray<AiJob>>(await runCli(["jobs", "list", "--json", "--database", pooled]))
    assert.sameMembers(listed.map((job) => job.job_id), [queued.job_id, stalled.job_id])
    const shown = json<{ readonly job: AiJob }>(await runCli(["jobs", "show", stalled.job_id, "--json", "--database", pooled]))
    assert.strictEqual(shown.job.state, "stalled")
    const events = json<ReadonlyArray<{ readonly type: string }>>(await runCli(["events", "--job", stalled.job_id, "--json", "--database", pooled]))
    assert.include(events.map((event) => event.type), "workflow_recovery")
  }, 120_000)

  it("prune --dry-run, recover and jobs cancel work through it; cancel changes the job", async () => {
    succeeded(await runCli(["prune", "--dry-run", "--database", pooled]))
    succeeded(await runCli(["recover", "--database", pooled]))
    succeeded(await runCli(["jobs", "cancel", queued.job_id, "--reason", "behind the pooler", "--database", pooled]))
    assert.strictEqual((await jobOf(url, queued.job_id)).state, "cancelled")
  }, 120_000)

  it("serve starts through it and lists the jobs", async () => {
    const token = "pgbouncer-serve-token-0123456789"
    const served = await startServe(["--token", token, "--database", pooled])
    try {
      const response = await fetch(`${served.url}jobs`, { headers: { authorization: `Bearer ${token}` } })
      assert.strictEqual(response.status, 200)
      const body = await response.json() as { readonly items: ReadonlyArray<AiJob> }
      assert.sameMembers(body.items.map((job) => job.job_id), [queued.job_id, stalled.job_id])
    } finally {
      assert.strictEqual(await served.stop(), 130, served.output())
    }
  }, 120_000)
})
