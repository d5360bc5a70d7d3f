/**
 * R10 / R11 (a read returns committed state only): a read the SQLite store
 * runs outside any transaction must hold the client's one connection while
 * it runs. SQLite isolates connections, not fibers: a read that acquires the
 * connection, yields, and runs after another fiber's BEGIN on that same
 * connection sees that transaction's uncommitted rows — a job that its
 * rollback then removes, returned as if it existed.
 *
 * Forced as in sqlite-lone-write-race.test.ts: the reader yields every `ops`
 * operations and the writing transaction starts after `delay` of its slices;
 * the transaction writes a job, yields for a while (the reader's statement
 * runs now if it got in) and fails. No read may ever see that job.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import { JobStore } from "../../src/store/JobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import type { JobId, TraceId } from "../../src/domain/Ids.js"
import { ids, jobEvent, newJob } from "./fixtures.js"
import { storeWithClient, tempDatabaseFile } from "./sqlite-support.js"

class Abort extends Error {}

const paths = [
  ["the store's own client (SqliteStore.layer)", (filename: string) => SqliteStore.layer({ filename })],
  ["a caller's client (layerFromClient)", (filename: string) => storeWithClient(filename)]
] as const

/** Each read, and whether what it returned shows the uncommitted job. */
const reads: ReadonlyArray<readonly [string, (store: JobStore["Type"], job: JobId, trace: TraceId) => Effect.Effect<boolean, unknown>]> = [
  ["getJob", (store, job) => Effect.map(Effect.exit(store.getJob(job)), Exit.isSuccess)],
  ["listJobs", (store, job, trace) => Effect.map(store.listJobs({ trace_id: trace }), (page) => page.items.some((j) => j.job_id === job))],
  ["listEvents", (store, job) => Effect.map(store.listEvents({ job_id: job }), (page) => page.items.length > 0)]
]

const rounds = Array.from({ length: 48 }, (_, i) => 16 + i).flatMap((ops) => [0, 1, 2, 3, 4, 5].map((delay) => ({ ops, delay })))

describe("R10 SQLite: a read outside a transaction never sees another fiber's uncommitted rows", () => {
  for (const [name, make] of paths) {
    for (const [readName, read] of reads) {
      it.scoped(`${name}: ${readName} never returns a rolled-back job, at every interleaving`, () =>
        Effect.gen(function*() {
          const filename = yield* tempDatabaseFile()
          const store = Context.get(yield* Layer.build(make(filename)), JobStore)
          const dirty: Array<string> = []
          for (const { delay, ops } of rounds) {
            const trace = ids.trace()
            const insideId = ids.job()
            const reader = yield* Effect.fork(Effect.locally(read(store, insideId, trace), FiberRef.currentMaxOpsBeforeYield, ops))
            const holder = yield* Effect.fork(Effect.gen(function*() {
              for (let i = 0; i < delay; i++) yield* Effect.yieldNow()
              yield* store.transaction(Effect.gen(function*() {
                yield* store.createJob(newJob({ job_id: insideId, trace_id: trace }), { events: (job) => [jobEvent(job)] })
                for (let i = 0; i < 200; i++) yield* Effect.yieldNow()
                return yield* Effect.fail(new Abort())
              }))
            }))
            const saw = yield* Fiber.await(reader)
            const held = yield* Fiber.await(holder)
            assert.isTrue(Exit.isSuccess(saw), `${ops}/${delay}: the read fails: ${String(saw)}`)
            assert.isTrue(Exit.isFailure(held), `${ops}/${delay}: the transaction was meant to fail`)
            if (Exit.isSuccess(saw) && saw.value) dirty.push(`${ops}/${delay}`)
          }
          assert.deepStrictEqual(dirty, [], "reads that returned a job its transaction then rolled back, at these ops/delay")
        }), { timeout: 60_000 })
    }
  }
})
