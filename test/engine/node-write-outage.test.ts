/**
 * R8/R17 a node's start or end write that meets a short database outage is
 * written again, as the run's end is (found by a fault-injection probe:
 * PostgreSQL stopped for 20 s, restarted, or a backend terminated — every
 * job whose node was ending failed, attempt 1 of 1, with `StorageError …
 * JobStore.finishNode: connect ECONNREFUSED`, its node stored `completed`
 * with its output). `ctx.node` failed with the first failure, so the program
 * did, and the attempt was spent. Now the write waits and tries again while
 * the database fails (unreachable, the connection lost); a refusal (a
 * constraint) is still the node's error at once.
 *
 * Written again safely: a try whose commit landed but whose answer was lost
 * is found by the next — the start by the node's id, the end by its status —
 * so the node is written once, never twice.
 *
 * Forced: on PostgreSQL a proxy cuts the connection exactly at the node's
 * write (after its COMMIT was answered: committed, the answer lost; or
 * after its UPDATE: nothing committed); on SQLite another connection holds
 * the write lock through the node's end write (SQLITE_BUSY), let go once it
 * failed; and on both, the real write committed and then a driver's
 * connection failure answered in its place.
 */
import * as SqlError from "@effect/sql/SqlError"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { createRequire } from "node:module"
import { NodeExecutionId } from "../../src/domain/Ids.js"
import { uuidv7 } from "../../src/domain/uuidv7.js"
import type { NodeExecution } from "../../src/domain/WorkflowRun.js"
import type { Jobs } from "../../src/Jobs.js"
import type { JobStore } from "../../src/store/JobStore.js"
import { JobStore as JobStoreTag } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import { summarize } from "../jobs/jobs.suite.js"
import { postgresShared, type SharedDatabase, sharedBackends, sqliteFileShared } from "../jobs/shared-database.js"
import { audit } from "../reliability/invariants.js"
import { startCuttingProxy } from "../support/cuttingProxy.js"
import { engineOn } from "./engine.js"

type Store = JobStore["Type"]

/** Another connection to a SQLite file, as another process would hold it. */
const Database = createRequire(import.meta.url)("better-sqlite3") as new(filename: string) => {
  exec: (sql: string) => void
  close: () => void
}

/** A driver's "the connection is gone" in each dialect's words: the database failed, not refused. */
const connectionLost = (store: Store, operation: string) =>
  new StorageError({
    operation,
    cause: new SqlError.SqlError({
      cause: store.dialect === "pg"
        ? new Error("Connection terminated unexpectedly")
        : Object.assign(new Error("disk I/O error"), { code: "SQLITE_IOERR" }),
      message: "simulated: the commit's answer was lost"
    })
  })

/** A constraint the database refuses in each dialect's words: a refusal that would repeat. */
const constraintRefused = (store: Store, operation: string) =>
  new StorageError({
    operation,
    cause: new SqlError.SqlError({
      cause: store.dialect === "pg"
        ? Object.assign(new Error("duplicate key value violates unique constraint"), { code: "23505", severity: "ERROR" })
        : Object.assign(new Error("UNIQUE constraint failed"), { code: "SQLITE_CONSTRAINT_UNIQUE" }),
      message: "simulated: refused"
    })
  })

/** Once armed, the next node start or end (as `which` says) commits, and its caller is told `failure` instead of the answer. */
const losingNodeAnswers = (which: "start" | "end", failure: (store: Store, operation: string) => StorageError) => {
  const state: { armed: boolean; lost: number; committed: unknown } = { armed: false, lost: 0, committed: undefined }
  const after = <A, E>(store: Store, operation: string, write: Effect.Effect<A, E>) =>
    Effect.flatMap(write, (value) => {
      if (!state.armed) return Effect.succeed(value)
      state.armed = false
      state.lost++
      state.committed = value
      return Effect.fail(failure(store, operation))
    })
  const wrap = (store: Store): Store =>
    which === "start"
      ? { ...store, startNode: (input) => after(store, "JobStore.startNode", store.startNode(input)) }
      : { ...store, finishNode: (id, outcome) => after(store, "JobStore.finishNode", store.finishNode(id, outcome)) }
  return { state, wrap }
}

/** The job ran once, attempt 1, its one node completed with `output`, each move recorded once. */
const completedOnce = (jobs: Jobs["Type"], database: SharedDatabase, jobId: string, output: unknown) =>
  Effect.gen(function*() {
    const job = yield* jobs.get(jobId as never)
    assert.strictEqual(job.state, "completed")
    assert.strictEqual(job.attempt, 1)
    const history = yield* jobs.history(jobId as never)
    assert.lengthOf(history.runs, 1)
    assert.deepStrictEqual(history.runs[0]!.nodes.map((node) => [node.status, node.output_payload]), [["completed", output]], "one node, completed once")
    const snapshot = yield* database.snapshot
    const moves = snapshot.events
      .filter((event) => event.job_id === jobId && event.type === "system")
      .map((event) => `${event.from_state}→${event.to_state}`)
    assert.deepStrictEqual(moves, ["null→queued", "queued→running", "running→completed"], "one event each")
    assert.deepStrictEqual(audit(snapshot, { quiescent: true }), [])
  })

for (const backend of sharedBackends) {
  describe(`a node write whose answer was lost to a connection failure, on ${backend.name}`, () => {
    for (const which of ["start", "end"] as const) {
      it.live(`R8 a node's ${which} that committed but whose answer was lost: written again safely — the job completes, its node completed once, attempt 1`, () =>
        Effect.gen(function*() {
          const database = yield* backend.fresh(`node ${which} answer lost`)
          const losing = losingNodeAnswers(which, connectionLost)
          const { jobs } = yield* engineOn(database, { wake: "poll", wrapStore: losing.wrap })
          const job = yield* jobs.submit(summarize())
          yield* jobs.start(job.job_id)
          let ran = 0
          const result = yield* jobs.run(job.job_id, (ctx) =>
            Effect.gen(function*() {
              losing.state.armed = true
              const drafted = yield* ctx.node({ node_id: "draft", node_type: "llm" }, Effect.sync(() => (ran++, { text: "draft" })))
              return { summary: drafted.text }
            })).pipe(Effect.exit)
          assert.strictEqual(losing.state.lost, 1, "the answer was lost once")
          assert.deepStrictEqual(result, Exit.succeed({ summary: "draft" }))
          assert.strictEqual(ran, 1, "the node's work ran once")
          const [node] = (yield* jobs.history(job.job_id)).runs[0]!.nodes
          const committed = losing.state.committed as NodeExecution
          assert.strictEqual(node!.id, committed.id, "the node the lost answer committed")
          if (which === "end") assert.deepStrictEqual(node!.finished_at, committed.finished_at, "its end not written twice")
          yield* completedOnce(jobs, database, job.job_id, { text: "draft" })
        }).pipe(Effect.scoped), 30_000)
    }

    it.live("R8 a node's end the database refuses (a constraint): not tried again — the node's error at once, as before", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("node end constraint")
        const losing = losingNodeAnswers("end", constraintRefused)
        const { jobs } = yield* engineOn(database, { wake: "poll", wrapStore: losing.wrap })
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        const caught = yield* jobs.run(job.job_id, (ctx) =>
          Effect.map(
            Effect.either(Effect.suspend(() => (losing.state.armed = true, ctx.node({ node_id: "a", node_type: "step" }, Effect.succeed({ part: 1 }))))),
            (either) => ({ caught: either._tag })
          ))
        assert.deepStrictEqual(caught, { caught: "Left" }, "the program saw the refusal")
        assert.strictEqual(losing.state.lost, 1, "tried once")
      }).pipe(Effect.scoped), 30_000)
  })
}

for (const backend of sharedBackends) {
  describe(`a node's start with its id given, on ${backend.name}`, () => {
    it.live("R8 JobStore.startNode writes the node under the id its writer chose; an id that is no node id is a DecodeFailure and writes nothing", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("node start id")
        const { jobs, store } = yield* engineOn(database, { wake: "poll" })
        const job = yield* jobs.submit(summarize())
        const { run } = yield* jobs.start(job.job_id)
        const refused = yield* Effect.flip(store.startNode({ id: "not-a-node-id" as never, workflow_run_id: run.id, node_id: "a", node_type: "step" }))
        assert.strictEqual(refused._tag, "DecodeFailure")
        assert.deepStrictEqual(yield* store.listNodes(run.id), [], "nothing written")
        const id = NodeExecutionId.make(uuidv7())
        const started = yield* store.startNode({ id, workflow_run_id: run.id, node_id: "a", node_type: "step" })
        assert.strictEqual(started.id, id)
        assert.deepStrictEqual((yield* store.listNodes(run.id)).map((node) => node.id), [id])
      }).pipe(Effect.scoped), 30_000)
  })
}

describe("a node write cut by a real connection failure, on PostgreSQL", () => {
  const cuts = [
    ["end", "COMMIT", "its end committed, the answer cut"],
    ["end", "UPDATE workflow_node_executions", "its end's UPDATE answer cut, nothing committed"],
    ["start", "COMMIT", "its start committed, the answer cut"]
  ] as const
  for (const [which, marker, what] of cuts) {
    it.live(`R17 a node's ${which} whose connection is cut (${what}): written again — the job completes, its node completed once, attempt 1`, () =>
      Effect.gen(function*() {
        const shared = yield* postgresShared.fresh(`node ${which} cut`)
        const proxy = yield* Effect.acquireRelease(Effect.promise(() => startCuttingProxy(shared.url, marker)), (p) => Effect.promise(p.close))
        const database: SharedDatabase = {
          url: proxy.url,
          store: () => Effect.map(Layer.build(PgStore.layer({ url: proxy.url })), (context) => Context.get(context, JobStoreTag)),
          snapshot: shared.snapshot
        }
        const { jobs } = yield* engineOn(database, { wake: "poll" })
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        const result = yield* jobs.run(job.job_id, (ctx) =>
          Effect.gen(function*() {
            if (which === "start") proxy.state.armed = true
            const drafted = yield* ctx.node(
              { node_id: "draft", node_type: "llm" },
              Effect.sync(() => (which === "end" ? proxy.state.armed = true : undefined, { text: "draft" }))
            )
            return { summary: drafted.text }
          })).pipe(Effect.exit)
        assert.strictEqual(proxy.state.cut, 1, "the connection was cut at the node's write")
        assert.deepStrictEqual(result, Exit.succeed({ summary: "draft" }))
        yield* completedOnce(jobs, database, job.job_id, { text: "draft" })
      }).pipe(Effect.scoped), 30_000)
  }
})

describe("a node write meeting a real lock held past the wait, on SQLite", () => {
  it.live("R17 a node's end that fails SQLITE_BUSY (another connection holds the write lock) is written again once the lock is let go: the job completes, its node completed once", () =>
    Effect.gen(function*() {
      const shared = yield* sqliteFileShared.fresh("node end busy")
      const database: SharedDatabase = {
        ...shared,
        store: () => Effect.map(Layer.build(SqliteStore.layer({ filename: shared.url, busyTimeoutMs: 20 })), (context) => Context.get(context, JobStoreTag))
      }
      const holder = yield* Effect.acquireRelease(Effect.sync(() => new Database(shared.url)), (db) => Effect.sync(() => db.close()))
      const state = { busy: 0, holding: false }
      // The lock is let go as the end write's first try fails: the retry, not luck, decides.
      const lettingGo = (store: Store): Store => ({
        ...store,
        finishNode: (id, outcome) =>
          Effect.tapError(store.finishNode(id, outcome), () =>
            Effect.sync(() => {
              if (!state.holding) return
              state.busy++
              state.holding = false
              holder.exec("COMMIT")
            }))
      })
      const { jobs } = yield* engineOn(database, { wake: "poll", wrapStore: lettingGo })
      const job = yield* jobs.submit(summarize())
      yield* jobs.start(job.job_id)
      const result = yield* jobs.run(job.job_id, (ctx) =>
        Effect.map(
          ctx.node({ node_id: "draft", node_type: "llm" }, Effect.sync(() => (holder.exec("BEGIN IMMEDIATE"), state.holding = true, { text: "draft" }))),
          (drafted) => ({ summary: drafted.text })
        )).pipe(Effect.exit)
      assert.strictEqual(state.busy, 1, "the end write met the held lock once")
      assert.deepStrictEqual(result, Exit.succeed({ summary: "draft" }))
      yield* completedOnce(jobs, database, job.job_id, { text: "draft" })
    }).pipe(Effect.scoped), 30_000)
})
