/**
 * An interrupted submit is announced in process only when its write committed
 * (found by a regression probe of the announce-on-interrupt fix): a submit
 * interrupted while it waited for SQLite's write lock, which another process
 * held, wrote nothing, yet `WakeUp.subscribe` was told `JobChanged` for a job
 * that never existed. On PostgreSQL a store call finishes its statement before
 * an interrupt takes effect, so an interrupted submit there has committed; the
 * wait for SQLite's write lock is where it writes nothing.
 */
import { assert, describe, it } from "@effect/vitest"
import { createRequire } from "node:module"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import type { JobId } from "../../src/domain/Ids.js"
import { uuidv7 } from "../../src/domain/uuidv7.js"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as WakeUp from "../../src/WakeUp.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"
import { interruptAtStatement } from "../support/statementTrap.js"
import { sharedBackends, sqliteFileShared } from "./shared-database.js"
import { postgres, sqliteFile, sqliteMemory } from "../support/stores.js"

/** Another process's connection to the file (better-sqlite3 ships no types). */
const Database = createRequire(import.meta.url)("better-sqlite3") as new (filename: string) => {
  exec(sql: string): void
  close(): void
}

describe("an interrupted submit that wrote nothing is not announced (SQLite file, WakeUp.layerInProcess)", () => {
  it.live("R6 submit and submitMany interrupted while another process holds the write lock: nothing written, no JobChanged for their jobs", () =>
    Effect.gen(function*() {
      const database = yield* sqliteFileShared.fresh("announce not committed")
      const context = yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store()), undefined, WakeUp.layerInProcess))
      const jobs = Context.get(context, Jobs)
      const wake = Context.get(context, WakeUp.WakeUp)
      const subscription = yield* wake.subscribe
      const one = "01a24c00-0000-7000-8000-00000000abc1" as JobId
      const batch = ["01a24c00-0000-7000-8000-00000000abc2", "01a24c00-0000-7000-8000-00000000abc3"] as Array<JobId>
      const other = new Database(database.url)
      other.exec("BEGIN IMMEDIATE")
      try {
        const single = yield* Effect.exit(Effect.timeout(jobs.submit(summarize({ job_id: one })), "200 millis"))
        const many = yield* Effect.exit(Effect.timeout(jobs.submitMany(batch.map((job_id) => summarize({ job_id }))), "200 millis"))
        assert.isTrue(Exit.isFailure(single) && Exit.isFailure(many), "both calls gave up waiting for the write lock")
      } finally {
        other.exec("ROLLBACK")
        other.close()
      }
      for (const id of [one, ...batch]) {
        assert.strictEqual((yield* Effect.either(jobs.get(id)))._tag, "Left", `job ${id} was never written`)
      }
      const told = [...(yield* Queue.takeAll(subscription))].map((signal) => (signal as { readonly job_id?: string }).job_id)
      assert.deepStrictEqual(told.filter((id) => id === one || batch.includes(id as JobId)), [], "no announcement of a job that was never written")
      // A submit that commits is still announced.
      yield* jobs.submit(summarize({ job_id: one }))
      const after = [...(yield* Queue.takeAll(subscription))].map((signal) => (signal as { readonly job_id?: string }).job_id)
      assert.include(after, one)
    }).pipe(Effect.scoped), 60_000)
})

// Found by a second regression probe: inside the caller's own transaction the read-back saw the
// transaction's uncommitted row, and the interrupt then rolled it back.
for (const backend of sharedBackends) {
  describe(`an interrupted submit inside the caller's transaction is not announced (${backend.name})`, () => {
    it.live("R6 store.transaction(jobs.submit) interrupted at each statement: a job that is not there afterwards was never announced", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("announce caller transaction")
        const store = yield* database.store()
        const context = yield* Layer.build(services(Layer.succeed(JobStore, store), undefined, WakeUp.layerInProcess))
        const jobs = Context.get(context, Jobs)
        const subscription = yield* Context.get(context, WakeUp.WakeUp).subscribe
        const phantoms: Array<string> = []
        let interrupted = 0
        for (let n = 1; n <= 12; n++) {
          const id = uuidv7() as JobId
          const { exit, firedAt } = yield* interruptAtStatement(store.transaction(jobs.submit(summarize({ job_id: id }))), n)
          if (Exit.isInterrupted(exit)) interrupted++
          const told = [...(yield* Queue.takeAll(subscription))].map((signal) => (signal as { readonly job_id?: string }).job_id)
          const there = (yield* Effect.either(jobs.get(id)))._tag === "Right"
          if (!there && told.includes(id)) phantoms.push(`statement ${n}`)
          if (firedAt === undefined) break
        }
        assert.isAbove(interrupted, 0, "the trap interrupted the submit at least once")
        assert.deepStrictEqual(phantoms, [], "no JobChanged for a job the rolled-back transaction never kept")
      }).pipe(Effect.scoped), 60_000)
  })
}

// The same for a start handed to workers (begin.ts): its interrupt's path announced the offer
// without the guard the submit and move paths have.
for (const backend of [sqliteMemory, sqliteFile, postgres("announce offer caller transaction")]) {
  describe(`an interrupted start handed to workers inside the caller's transaction is not announced (${backend.name})`, () => {
    it.live("R6 store.transaction(jobs.start(id, { handTo: \"workers\" })) interrupted at each statement: an offer the rolled-back transaction never kept was never announced", () =>
      Effect.gen(function*() {
        const storeContext = (yield* Layer.build(backend.makeStore())) as Context.Context<JobStore>
        const store = Context.get(storeContext, JobStore)
        const context = yield* Layer.build(services(Layer.succeedContext(storeContext), undefined, WakeUp.layerInProcess))
        const jobs = Context.get(context, Jobs)
        const subscription = yield* Context.get(context, WakeUp.WakeUp).subscribe
        const phantoms: Array<string> = []
        let interrupted = 0
        for (let n = 1; n <= 40; n++) {
          const job = yield* jobs.submit(summarize())
          yield* Queue.takeAll(subscription)
          const { exit, firedAt } = yield* interruptAtStatement(store.transaction(jobs.start(job.job_id, { handTo: "workers" })), n)
          if (Exit.isInterrupted(exit)) interrupted++
          const offers = [...(yield* Queue.takeAll(subscription))].filter((signal) =>
            (signal as { readonly job_id?: string }).job_id === job.job_id && (signal as { readonly offered?: boolean }).offered === true
          )
          const after = yield* jobs.get(job.job_id)
          if (after.state !== "running" && offers.length > 0) phantoms.push(`statement ${n}`)
          yield* jobs.cancel(job.job_id)
          if (firedAt === undefined) break
        }
        assert.isAbove(interrupted, 0, "the trap interrupted the start at least once")
        assert.deepStrictEqual(phantoms, [], "no offer announced for a start the rolled-back transaction never kept")
      }).pipe(Effect.scoped), 60_000)
  })
}
