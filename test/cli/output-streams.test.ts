/**
 * Where the CLI's output goes, as an operator's shell plumbs it (R17: a clear
 * error, never a stack trace): a reader that closes the pipe early
 * (`ai-jobs events | head -1`) ends the command quietly with 141, as SIGPIPE
 * ends a C tool — Node printed an unhandled EPIPE stack trace and exited 1; a
 * slow reader still gets every byte — the process exited with writes still
 * queued for the pipe; a value given by mistake at 100 kB is quoted cut short,
 * not echoed whole.
 */
import * as path from "node:path"
import { assert, beforeAll, describe, it } from "@effect/vitest"
import { exitOf, runCli, spawnCli, tempDir } from "./cli.js"
import { queuedJob } from "./fixtures.js"

let db = ""
let bigJobId = ""
const BLOB = 300_000

beforeAll(async () => {
  db = path.join(tempDir("streams"), "jobs.db")
  assert.strictEqual((await runCli(["migrate", "--database", db])).code, 0)
  bigJobId = (await queuedJob(db, { job_inputs: { blob: "x".repeat(BLOB) } })).job_id
}, 120_000)

/** Everything a stream gives until it ends. */
const readAll = (stream: NodeJS.ReadableStream): Promise<string> =>
  new Promise((resolve) => {
    const chunks: Array<Buffer> = []
    stream.on("data", (chunk: Buffer) => chunks.push(chunk))
    stream.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
  })

describe("ai-jobs output on pipes", { timeout: 120_000 }, () => {
  it("R17 a reader that closed stdout before the command wrote (… | head): exit 141, nothing on stderr, no stack trace", async () => {
    const child = await spawnCli(["jobs", "show", bigJobId, "--json", "--database", db])
    // Closed before the process has even started: its first write meets a closed pipe.
    child.stdout!.destroy()
    const stderr = readAll(child.stderr!)
    assert.strictEqual(await exitOf(child), 141)
    assert.strictEqual(await stderr, "")
  })

  it("R17 a reader that closed both pipes (… 2>&1 | head) while the command fails: exit 141, not a crash", async () => {
    const child = await spawnCli(["jobs", "show", "not-an-id", "--database", db])
    child.stdout!.destroy()
    child.stderr!.destroy()
    assert.strictEqual(await exitOf(child), 141)
  })

  it("R17 a slow reader gets every byte of a long answer: 300 kB of JSON read a second after the command finished writing", async () => {
    const child = await spawnCli(["jobs", "show", bigJobId, "--json", "--database", db])
    // Not read yet: the pipe fills at 64 kB and the rest waits in the process.
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    const [stdout, code] = await Promise.all([readAll(child.stdout!), exitOf(child)])
    assert.strictEqual(code, 0)
    const shown = JSON.parse(stdout) as { job: { job_inputs: { blob: string } } }
    assert.strictEqual(shown.job.job_inputs.blob.length, BLOB)
  })

  it("R17 a 100 kB value given by mistake is quoted cut short, saying how long it was: one line, exit 2", async () => {
    const huge = "a".repeat(100_000)
    for (const args of [["jobs", "show", huge], ["jobs", "list", "--since", huge], ["jobs", "list", "--kind", huge]]) {
      const result = await runCli([...args, "--database", db])
      assert.strictEqual(result.code, 2, result.stderr.slice(0, 300))
      assert.isBelow(result.stderr.length, 2_100, args.slice(0, 3).join(" ").slice(0, 40))
      // The value, or the value in quotes.
      assert.match(result.stderr, /… \(1000\d\d characters in all\)/)
      assert.strictEqual(result.stderr.trim().split("\n").length, 1)
    }
  })
})
