/**
 * A claim whose answer a dropped connection lost (found by an outside probe:
 * a TCP proxy swallowing the reply to a worker pool's claim on PostgreSQL).
 * The claim committed — the job `running` under a new run — then the
 * connection dropped before the reply was read: the caller got a
 * `StorageError`, the pool logged "worker iteration failed" without naming
 * the job, and the job stayed `running` under a run nobody held until a
 * sweep stalled it (attempt 1 of 3, its retries never applied). Now the
 * claim is looked up by what the call knew before its write (its records'
 * event ids, or its run's id) and released to `queued` with its event, the
 * look tried again while the database cannot be reached (bounded; past it a
 * warning names what may be running, left to recovery); the caller still
 * gets its `StorageError`, which names the job.
 *
 * Forced by wrapping the real store (the write commits, then its caller is
 * told `StorageError`) on SQLite and PostgreSQL, and on PostgreSQL by a
 * proxy that drops the claim's (or the start's COMMIT's) real answer and
 * cuts the connection. SQLite's own COMMIT failure is never ambiguous — the
 * driver runs it in-process and its answer cannot be lost: refused, the store
 * rolls back — and that is tested too: nothing is left running.
 */
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import { createRequire } from "node:module"
import { JobId } from "../../src/domain/Ids.js"
import { uuidv7 } from "../../src/domain/uuidv7.js"
import { claimAnswerLostReason, LOST_CLAIM_LOOKS } from "../../src/internal/jobs/claimAnswerLost.js"
import type * as Jobs from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import { jobsOver, takeWithin } from "../engine/eagerPools.js"
import { capturingLog } from "../support/capturedLog.js"
import { startCuttingProxy } from "../support/cuttingProxy.js"
import { tempSqliteFile } from "../support/stores.js"
import { summarize } from "./jobs.suite.js"
import { postgresShared, sharedBackends, sqliteFileShared } from "./shared-database.js"

type Store = JobStore["Type"]

const lostConnection = (operation: string) =>
  new StorageError({ operation, cause: new Error("simulated: Connection terminated unexpectedly") })

/**
 * `store` whose next claim (once `armed`) commits and then answers
 * `StorageError`: a one-statement claim that took a job, or a transaction
 * (a start's) that committed. Its event look fails `lookFails` more times.
 */
const losingClaimAnswers = (store: Store) => {
  const state = { armed: false, armedTransaction: false, lost: 0, lookFails: 0, looks: 0 }
  const wrapped: Store = {
    ...store,
    listEvents: (filter) => {
      state.looks++
      if (state.lookFails <= 0) return store.listEvents(filter)
      state.lookFails--
      return Effect.fail(lostConnection("JobStore.listEvents"))
    },
    claimAdmitted: (options) =>
      Effect.flatMap(store.claimAdmitted!(options), (outcome) => {
        if (!state.armed || outcome === null || outcome._tag !== "Claimed") return Effect.succeed(outcome)
        state.armed = false
        state.lost++
        return Effect.fail(lostConnection("JobStore.claimAdmitted"))
      }),
    transaction: (effect) =>
      Effect.flatMap(store.transaction(effect), (value) => {
        if (!state.armedTransaction) return Effect.succeed(value)
        state.armedTransaction = false
        state.lost++
        return Effect.fail(lostConnection("JobStore.transaction"))
      })
  }
  return { state, store: wrapped }
}

/** The job's lifecycle moves, in order, with the reason of each move into `queued` after the first. */
const movesOf = (jobs: Jobs.Jobs["Type"], jobId: JobId) =>
  Effect.map(jobs.history(jobId), (history) =>
    history.events.flatMap((event) =>
      event.type === "system" && "to_state" in event.body
        ? [`${String(event.body["from_state"] ?? "∅")}→${String(event.body["to_state"])}`]
        : []
    ))

/** The reason of the job's last `running → queued` move. */
const releaseReason = (jobs: Jobs.Jobs["Type"], jobId: JobId) =>
  Effect.map(jobs.history(jobId), (history) => {
    const released = history.events.filter((event) => event.body["from_state"] === "running" && event.body["to_state"] === "queued")
    return released.length === 0 ? undefined : String(released[released.length - 1]!.body["reason"])
  })

/** A job claimed and completed through `claimNext`: the one-statement claim's memo knows its subject after it. */
const primeClaims = (jobs: Jobs.Jobs["Type"]) =>
  Effect.gen(function*() {
    const first = yield* jobs.submit(summarize())
    const claim = yield* jobs.claimNext()
    assert.strictEqual(claim?.job.job_id, first.job_id)
    yield* jobs.run(first.job_id, () => Effect.succeed({ ok: true }))
  })

/** After a lost claim of `jobId` was released: queued again, its run ended, one `running → queued` with the lost answer's reason. */
const assertReleased = (jobs: Jobs.Jobs["Type"], jobId: JobId, operation: string) =>
  Effect.gen(function*() {
    const job = yield* jobs.get(jobId)
    assert.strictEqual(job.state, "queued", `released to queued (it was ${job.state})`)
    assert.deepStrictEqual(yield* movesOf(jobs, jobId), ["∅→queued", "queued→running", "running→queued"])
    assert.strictEqual(yield* releaseReason(jobs, jobId), claimAnswerLostReason(operation))
    const history = yield* jobs.history(jobId)
    assert.lengthOf(history.runs, 1)
    assert.notStrictEqual(history.runs[0]!.run.status, "running", "the lost claim's run is ended")
  })

/**
 * A one-loop pool (no eager dispatch) runs a first job (the one-statement claim's memo learns its
 * subject), then `arm(jobId)` arms the loss of the next claim of job `jobId`, submitted next; the
 * pool must run it after its release, the pool's warning naming it. `lost()`: claims lost so far.
 */
const poolLosesClaim = (jobs: Jobs.Jobs["Type"], arm: (jobId: JobId) => void, lost: () => number) =>
  Effect.gen(function*() {
    const starts = yield* Queue.unbounded<JobId>()
    const log = capturingLog(["WARN"])
    yield* log.provide(jobs.worker({
      concurrency: 1,
      pollInterval: "100 millis",
      eagerDispatch: false,
      handlers: { doc_summarize: (ctx) => Queue.offer(starts, ctx.job.job_id) }
    }))
    const first = yield* jobs.submit(summarize())
    assert.strictEqual(yield* takeWithin(starts, "the first job's start"), first.job_id)
    yield* jobs.await(first.job_id, { timeout: "10 seconds" })
    const jobId = JobId.make(uuidv7())
    arm(jobId)
    const job = yield* jobs.submit(summarize({ job_id: jobId }))
    assert.strictEqual(yield* takeWithin(starts, "the job's start after its release"), job.job_id)
    assert.strictEqual((yield* jobs.await(job.job_id, { timeout: "10 seconds" })).state, "completed")
    assert.strictEqual(lost(), 1, "one claim's answer was lost")
    assert.deepStrictEqual(yield* movesOf(jobs, job.job_id), ["∅→queued", "queued→running", "running→queued", "queued→running", "running→completed"])
    assert.strictEqual(yield* releaseReason(jobs, job.job_id), claimAnswerLostReason("Jobs.claimNext"))
    const warned = log.lines.filter((line) => line.includes("worker iteration failed"))
    assert.lengthOf(warned, 1, `one warning (got ${JSON.stringify(log.lines)})`)
    assert.include(warned[0]!, job.job_id, "the pool's warning names the job")
  })

for (const backend of sharedBackends) {
  describe(`claim answer lost on ${backend.name} (store wrapper)`, () => {
    it.live(`claim answer lost ${backend.name}: claimNext's claim committed, its answer lost — StorageError naming the job, the job released to queued and claimable again`, () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("claim answer lost")
        const losing = losingClaimAnswers(yield* database.store())
        const jobs = yield* jobsOver(database, losing.store)
        yield* primeClaims(jobs)
        const job = yield* jobs.submit(summarize())
        losing.state.armed = true
        const error = yield* Effect.flip(jobs.claimNext())
        assert.strictEqual(losing.state.lost, 1, "the claim committed and its answer was lost")
        assert.strictEqual(error._tag, "StorageError")
        assert.include(error.message, "Connection terminated unexpectedly", "the claim's own error")
        assert.include(error.message, job.job_id, "the error names the job")
        yield* assertReleased(jobs, job.job_id, "Jobs.claimNext")
        const again = yield* jobs.claimNext()
        assert.strictEqual(again?.job.job_id, job.job_id, "claimable again")
        assert.strictEqual(again?.job.attempt, 1, "the lost claim used no attempt")
      }).pipe(Effect.scoped), 60_000)

    it.live(`claim answer lost ${backend.name}: claimNext's claim in a transaction (a store with no one-statement claim) committed, its answer lost — the job released to queued`, () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("claim transaction answer lost")
        const losing = losingClaimAnswers(yield* database.store())
        // Without claimAdmitted, every claim is the general one: the claim, its records and COMMIT in one transaction.
        const { claimAdmitted: _, ...general } = losing.store
        const jobs = yield* jobsOver(database, general)
        const job = yield* jobs.submit(summarize())
        losing.state.armedTransaction = true
        const error = yield* Effect.flip(jobs.claimNext())
        assert.strictEqual(losing.state.lost, 1)
        assert.strictEqual(error._tag, "StorageError")
        assert.include(error.message, job.job_id)
        yield* assertReleased(jobs, job.job_id, "Jobs.claimNext")
      }).pipe(Effect.scoped), 60_000)

    it.live(`claim answer lost ${backend.name}: a pool's claim committed, its answer lost — the pool's warning names the job, which is released and then runs`, () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("pool claim answer lost")
        const losing = losingClaimAnswers(yield* database.store())
        const jobs = yield* jobsOver(database, losing.store)
        yield* poolLosesClaim(jobs, () => {
          losing.state.armed = true
        }, () => losing.state.lost)
      }).pipe(Effect.scoped), 60_000)

    it.live(`claim answer lost ${backend.name}: start's move committed, its answer lost — StorageError naming the job, the job released to queued`, () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("start answer lost")
        const losing = losingClaimAnswers(yield* database.store())
        const jobs = yield* jobsOver(database, losing.store)
        const job = yield* jobs.submit(summarize())
        losing.state.armedTransaction = true
        const error = yield* Effect.flip(jobs.start(job.job_id))
        assert.strictEqual(losing.state.lost, 1)
        assert.strictEqual(error._tag, "StorageError")
        assert.include(error.message, job.job_id)
        yield* assertReleased(jobs, job.job_id, "Jobs.start")
      }).pipe(Effect.scoped), 60_000)

    it.live(`claim answer lost ${backend.name}: claimNext inside the caller's transaction on another database (not joined: the claim commits on its own), its answer lost — the job released to queued all the same`, () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("claim answer lost foreign transaction")
        const losing = losingClaimAnswers(yield* database.store())
        const jobs = yield* jobsOver(database, losing.store)
        yield* primeClaims(jobs)
        // The application's own database: another SQLite file.
        const app = Context.get(yield* Layer.build(SqliteClient.layer({ filename: tempSqliteFile("claim answer lost app") })), SqlClient.SqlClient)
        yield* app`CREATE TABLE notes (t TEXT)`
        const job = yield* jobs.submit(summarize())
        losing.state.armed = true
        const error = yield* Effect.flip(app.withTransaction(Effect.zipRight(app`INSERT INTO notes VALUES ('x')`, jobs.claimNext())))
        assert.strictEqual(error._tag, "StorageError")
        assert.include(error.message, job.job_id, "the error names the job")
        yield* assertReleased(jobs, job.job_id, "Jobs.claimNext")
      }).pipe(Effect.scoped), 60_000)

    it.live(`claim answer lost ${backend.name}: the look fails while the database is unreachable, then works — tried again, the claim released`, () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("claim answer lost look again")
        const losing = losingClaimAnswers(yield* database.store())
        const jobs = yield* jobsOver(database, losing.store)
        yield* primeClaims(jobs)
        const job = yield* jobs.submit(summarize())
        losing.state.armed = true
        losing.state.lookFails = 3
        losing.state.looks = 0
        const error = yield* Effect.flip(jobs.claimNext())
        assert.strictEqual(error._tag, "StorageError")
        assert.strictEqual(losing.state.lookFails, 0, "the three failed looks were made")
        yield* assertReleased(jobs, job.job_id, "Jobs.claimNext")
      }).pipe(Effect.scoped), 60_000)

    it.live(`claim answer lost ${backend.name}: the look fails past its bound — the claim's error, a warning saying what may be running, the job left to recovery`, () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("claim answer lost look down")
        const losing = losingClaimAnswers(yield* database.store())
        const jobs = yield* jobsOver(database, losing.store)
        yield* primeClaims(jobs)
        const job = yield* jobs.submit(summarize())
        losing.state.armed = true
        losing.state.lookFails = 1_000
        losing.state.looks = 0
        const log = capturingLog(["WARN"])
        const error = yield* Effect.flip(log.provide(jobs.claimNext()))
        losing.state.lookFails = 0
        assert.strictEqual(error._tag, "StorageError")
        assert.include(error.message, "Connection terminated unexpectedly")
        assert.strictEqual(losing.state.looks, LOST_CLAIM_LOOKS, "looked a bounded number of times")
        const warned = log.lines.filter((line) => line.includes("recovery stalls that run"))
        assert.lengthOf(warned, 1, `one warning (got ${JSON.stringify(log.lines)})`)
        assert.strictEqual((yield* jobs.get(job.job_id)).state, "running", "left to recovery")
      }).pipe(Effect.scoped), 60_000)
  })
}

describe("claim answer lost on PostgreSQL, cut on a real connection", () => {
  /** A store through a proxy cutting the answer to the chunk holding `marker`, and Jobs over it. */
  const throughProxy = (label: string, marker: string) =>
    Effect.gen(function*() {
      const database = yield* postgresShared.fresh(label)
      const proxy = yield* Effect.acquireRelease(Effect.promise(() => startCuttingProxy(database.url, marker)), (proxy) => Effect.promise(proxy.close))
      const store = yield* Effect.map(Layer.build(PgStore.layer({ url: proxy.url })), (context) => Context.get(context, JobStore))
      const jobs = yield* jobsOver(database, store)
      return { jobs, proxy }
    })
  // The one-statement claim's parameters: its claimers, each with its records' event ids.
  const CLAIM_MARKER = "\"event_ids\":["

  it.live("claim answer lost PostgreSQL: the connection cut after the server answered claimNext's claim — StorageError naming the job, the job released to queued", () =>
    Effect.gen(function*() {
      const { jobs, proxy } = yield* throughProxy("claim answer cut", CLAIM_MARKER)
      yield* primeClaims(jobs)
      const job = yield* jobs.submit(summarize())
      proxy.state.armed = true
      const error = yield* Effect.flip(jobs.claimNext())
      assert.strictEqual(proxy.state.cut, 1, "the claim's answer was cut")
      assert.strictEqual(error._tag, "StorageError")
      assert.include(error.message, job.job_id, "the error names the job")
      yield* assertReleased(jobs, job.job_id, "Jobs.claimNext")
    }).pipe(Effect.scoped), 60_000)

  it.live("claim answer lost PostgreSQL: the connection cut after the server answered a pool's claim — the pool's warning names the job, which then runs", () =>
    Effect.gen(function*() {
      const { jobs, proxy } = yield* throughProxy("pool claim answer cut", CLAIM_MARKER)
      yield* poolLosesClaim(jobs, (jobId) => {
        // Only the claim of this job is cut: an idle loop's claim that finds nothing goes through.
        proxy.state.answerHolding = jobId
        proxy.state.armed = true
      }, () => proxy.state.cut)
    }).pipe(Effect.scoped), 60_000)

  it.live("claim answer lost PostgreSQL: the connection cut after the server answered start's COMMIT — StorageError naming the job, the job released to queued", () =>
    Effect.gen(function*() {
      const { jobs, proxy } = yield* throughProxy("start answer cut", "COMMIT")
      const job = yield* jobs.submit(summarize())
      proxy.state.armed = true
      const error = yield* Effect.flip(jobs.start(job.job_id))
      assert.strictEqual(proxy.state.cut, 1, "the COMMIT's answer was cut")
      assert.strictEqual(error._tag, "StorageError")
      assert.include(error.message, job.job_id)
      yield* assertReleased(jobs, job.job_id, "Jobs.start")
    }).pipe(Effect.scoped), 60_000)
})

/** better-sqlite3's COMMIT refused once, as SQLite refuses one (a full disk, an I/O error): the COMMIT never runs. */
const refuseNextSqliteCommit = () => {
  const require = createRequire(import.meta.url)
  const Database = require("better-sqlite3")
  const db = new Database(":memory:")
  const Statement = Object.getPrototypeOf(db.prepare("SELECT 1"))
  db.close()
  const state = { armed: false, refused: 0 }
  const refuse = (text: string) => {
    if (!state.armed || !/^\s*COMMIT\b/i.test(text)) return
    state.armed = false
    state.refused++
    throw Object.assign(new Error("simulated: database or disk is full"), { code: "SQLITE_FULL" })
  }
  const run = Statement.run
  const exec = Database.prototype.exec
  Statement.run = function(this: { readonly source: string }, ...args: Array<unknown>) {
    refuse(this.source)
    return run.apply(this, args)
  }
  Database.prototype.exec = function(this: unknown, text: string) {
    refuse(text)
    return exec.call(this, text)
  }
  return {
    state,
    restore: () => {
      Statement.run = run
      Database.prototype.exec = exec
    }
  }
}

describe("claim answer lost on SQLite: its COMMIT's failure is never ambiguous", () => {
  it.live("claim answer lost SQLite file: a claim whose COMMIT SQLite refuses — StorageError, nothing left running, the job claimable again", () =>
    Effect.gen(function*() {
      const database = yield* sqliteFileShared.fresh("sqlite commit refused")
      const jobs = yield* jobsOver(database, yield* database.store())
      yield* primeClaims(jobs)
      const job = yield* jobs.submit(summarize())
      const refusing = yield* Effect.acquireRelease(Effect.sync(refuseNextSqliteCommit), (refusing) => Effect.sync(refusing.restore))
      refusing.state.armed = true
      const error = yield* Effect.flip(jobs.claimNext())
      assert.strictEqual(refusing.state.refused, 1, "the claim's COMMIT was refused")
      assert.strictEqual(error._tag, "StorageError")
      const after = yield* jobs.get(job.job_id)
      assert.strictEqual(after.state, "queued", "nothing committed: the job is queued")
      assert.deepStrictEqual(yield* movesOf(jobs, job.job_id), ["∅→queued"])
      assert.lengthOf((yield* jobs.history(job.job_id)).runs, 0, "no run")
      assert.strictEqual((yield* jobs.claimNext())?.job.job_id, job.job_id)
    }).pipe(Effect.scoped), 60_000)
})
