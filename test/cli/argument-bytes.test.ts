/**
 * The real `ai-jobs` given argument and environment bytes that are not UTF-8 (found by an outside
 * tester): Node reads them with U+FFFD in their place, so a --reason was stored changed and a
 * Latin-1 --database named another file, which migrate created. Each is now refused (exit 2, one
 * line naming the option or variable) before anything is opened. Linux, where /proc has the bytes.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { type CliResult, runCliWithBytes, tempDir } from "./cli.js"
import { eventsOf, jobOf, migratedByCli, queuedJob } from "./fixtures.js"

const refusedNaming = (result: CliResult, what: string) => {
  assert.strictEqual(result.code, 2, result.stderr)
  assert.strictEqual(
    result.stderr,
    `error: ${what} holds bytes that are not UTF-8 (which would be read as U+FFFD, naming or storing something else); give it as UTF-8\n`
  )
  assert.strictEqual(result.stdout, "")
}

describe.runIf(fs.existsSync("/proc/self/cmdline"))("ai-jobs and bytes that are not UTF-8", () => {
  it("a --reason with bytes that are not UTF-8 is refused naming --reason, exit 2; the job and its events are unchanged", async () => {
    const url = path.join(tempDir("bytes-reason"), "jobs.db")
    await migratedByCli(url)
    const job = await queuedJob(url)
    const before = await eventsOf(url, job.job_id)
    refusedNaming(await runCliWithBytes(`jobs cancel ${job.job_id} --reason $'bad\\xff\\xc0\\x80end' --database '${url}'`), "--reason's value")
    refusedNaming(await runCliWithBytes(`jobs cancel ${job.job_id} --reason=$'bad\\xffend' --database '${url}'`), "--reason's value")
    assert.strictEqual((await jobOf(url, job.job_id)).state, "queued")
    assert.strictEqual((await eventsOf(url, job.job_id)).length, before.length)
    // UTF-8 text is still a reason, U+FFFD typed as such included.
    const cancelled = await runCliWithBytes(`jobs cancel ${job.job_id} --reason $'caf\\xc3\\xa9 \\xef\\xbf\\xbd' --database '${url}'`)
    assert.strictEqual(cancelled.code, 0, cancelled.stderr)
    assert.strictEqual((await jobOf(url, job.job_id)).status_reason, "café \uFFFD")
  })

  it("a Latin-1 --database or DATABASE_URL is refused naming it, exit 2, and no other file is created or migrated", async () => {
    const dir = tempDir("bytes-database")
    refusedNaming(await runCliWithBytes(`migrate --database $'${dir}/caf\\xe9.db'`), "--database's value")
    refusedNaming(await runCliWithBytes(`jobs list --database $'${dir}/caf\\xe9.db'`), "--database's value")
    refusedNaming(await runCliWithBytes("migrate", { assignments: `DATABASE_URL=$'${dir}/caf\\xe9.db'` }), "DATABASE_URL")
    assert.deepStrictEqual(fs.readdirSync(dir), [], "nothing created")
    // The same name in UTF-8 is a file like any other.
    const migrated = await runCliWithBytes(`migrate --database $'${dir}/caf\\xc3\\xa9.db'`)
    assert.strictEqual(migrated.code, 0, migrated.stderr)
    assert.deepStrictEqual(fs.readdirSync(dir).filter((name) => name.endsWith(".db")), ["café.db"])
  })
})
