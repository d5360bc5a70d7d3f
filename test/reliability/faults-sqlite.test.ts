/**
 * Connection faults on SQLite (issue 8, part 3): another process holds the
 * file's write lock (`BEGIN IMMEDIATE` in sqlite-lock-holder.ts). Our writers
 * must wait up to the busy timeout, then fail with a typed `StorageError`
 * having written nothing; readers are not blocked (WAL); a writer waiting
 * when the lock is released goes through, and so do writes after it.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { Jobs } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { summarize } from "../jobs/jobs.suite.js"
import { services } from "../jobs/services.js"
import { ids, newJob } from "../store/fixtures.js"
import { releasedOnSecondTry } from "../support/statementTrap.js"
import { is, startChild } from "./children.js"
import { report } from "./report.js"

const BUSY_TIMEOUT_MS = 500
/** The store's budget when given none: a store that ignored `busyTimeoutMs` would wait at least this long. */
const DEFAULT_BUSY_TIMEOUT_MS = 5000

const tempFile = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "hsk-lock-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
).pipe(Effect.map((dir) => path.join(dir, "jobs.db")))

/** Another process holding the write lock until `release`. */
const lockHolder = (filename: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const child = await startChild("sqlite-lock-holder.ts", { HSK_DATABASE: filename })
      await child.waitFor(is("locked"), 30_000)
      return child
    }),
    (child) => Effect.promise(() => child.kill())
  )

const outcome = <A, E>(exit: Exit.Exit<A, E>): string => {
  if (Exit.isSuccess(exit)) return "success"
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "Some") return (failure.value as { readonly _tag?: string })._tag ?? "untagged failure"
  return Cause.isDie(exit.cause) ? `defect: ${Cause.pretty(exit.cause).split("\n")[0]}` : "interrupted"
}

/** Runs `effect` and measures it in real milliseconds. */
const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const started = performance.now()
    const exit = yield* Effect.exit(effect)
    return { exit, ms: performance.now() - started }
  })

describe("reliability: SQLite write lock held by another process", () => {
  it.live("R17 writers wait up to the busy timeout, then fail with a typed StorageError and write nothing; reads go on; writes succeed once the lock is released", () =>
    Effect.gen(function*() {
      const filename = yield* tempFile
      const context = yield* Layer.build(services(SqliteStore.layer({ filename, busyTimeoutMs: BUSY_TIMEOUT_MS }), Recovery.layerNoStartupRecovery))
      const store = Context.get(context, JobStore)
      // A second store on the file whose budget outlasts any machine's delay in letting go (the test's timeout).
      const patient = Context.get(yield* Layer.build(SqliteStore.layer({ filename, busyTimeoutMs: 120_000 })), JobStore)
      const jobs = Context.get(context, Jobs)
      const existing = yield* jobs.submit(summarize())
      const claimed = yield* jobs.submit(summarize({ job_kind: "doc_edit" }))
      const claim = yield* jobs.claimNext({ kinds: ["doc_edit"] })
      assert.isNotNull(claim)

      const holder = yield* lockHolder(filename)
      const blockedId = ids.job()
      const writes = {
        createJob: store.createJob(newJob({ job_id: blockedId })),
        submit: jobs.submit(summarize()),
        claimNext: jobs.claimNext(),
        heartbeat: store.heartbeat(claim!.run.id),
        transition: jobs.cancel(existing.job_id),
        recovery: Recovery.recoverStalledRuns({ threshold: Duration.seconds(1) }).pipe(Effect.provide(context))
      }
      const waits: Record<string, number> = {}
      for (const [name, write] of Object.entries(writes)) {
        const { exit, ms } = yield* timed(write as Effect.Effect<unknown, unknown>)
        assert.strictEqual(outcome(exit), "StorageError", `${name} under a held lock`)
        // Measured on the store's own clock (performance.now): it never gives up before its budget. The holder
        // holds on until told: the write gave up by itself. Below the default budget, not an idle machine's bound.
        assert.isAtLeast(ms, BUSY_TIMEOUT_MS * 0.9, `${name} waited for the lock (${ms} ms)`)
        assert.isBelow(ms, DEFAULT_BUSY_TIMEOUT_MS, `${name} gave up after its busy timeout, not the default one (${ms} ms)`)
        waits[name] = Math.round(ms)
      }

      // Readers are not blocked by a writer (WAL): the lock is still held, so a read that waited for it would fail.
      const read = yield* timed(store.listJobs())
      assert.strictEqual(outcome(read.exit), "success", "a read does not wait for the write lock")
      assert.strictEqual(outcome(yield* Effect.exit(store.getJob(blockedId))), "NotFound", "the failed write left nothing")
      assert.strictEqual((yield* store.getJob(existing.job_id)).state, "queued", "the failed transition changed nothing")
      assert.strictEqual((yield* store.getJob(claimed.job_id)).state, "running")

      // A writer that is waiting when the lock is released goes through: released once it has met the lock,
      // not after a fixed 150 ms that a loaded machine could spend before the write began (or past its budget).
      const released = yield* timed(releasedOnSecondTry(patient.createJob(newJob({ job_id: blockedId })), () => holder.send("release")))
      yield* Effect.promise(() => holder.waitFor(is("released"), 10_000))
      const { exit, firedAt } = yield* released.exit
      assert.isDefined(firedAt, "the writer was waiting for the lock when it was released")
      assert.strictEqual(outcome(exit), "success", "the waiting writer got the lock once it was released")

      // And everything works again.
      assert.strictEqual((yield* jobs.cancel(existing.job_id)).state, "cancelled")
      assert.strictEqual((yield* store.getJob(blockedId)).job_id, blockedId)
      yield* store.heartbeat(claim!.run.id)
      report("faults-sqlite-lock", { busyTimeoutMs: BUSY_TIMEOUT_MS, waitsMs: waits, releasedWriterMs: Math.round(released.ms) })
    }).pipe(Effect.scoped), 60_000)
})
