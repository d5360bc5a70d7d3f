/**
 * R10 / R9 (every change kept once acknowledged): a write the SQLite store
 * runs on its own, outside any transaction (`createJob`'s lone INSERT, a
 * heartbeat, `createJobs` without events), must hold the client's one
 * connection while it runs. @effect/sql-sqlite-node's acquirer gives the
 * connection's permit back as soon as it hands the connection out, before the
 * statement runs: a fiber that yields in between (the runtime yields every
 * so many operations) lets another fiber BEGIN a transaction on that same
 * connection, and the lone write then runs inside it — undone, though
 * acknowledged, when that transaction rolls back.
 *
 * Forced, not hoped for: the writer yields after every operation, and the
 * transaction starts after 0, 1, 2, … of the writer's operations, so one
 * round of the sweep lands it exactly between the writer's acquire and its
 * statement. Each round, the transaction writes a job of its own, yields
 * for a while (the writer's statement runs now if it got in) and fails; the
 * writer's job must be there afterwards, the transaction's must not.
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
import { ids, newJob } from "./fixtures.js"
import { storeWithClient, tempDatabaseFile } from "./sqlite-support.js"

class Abort extends Error {}

const paths = [
  ["the store's own client (SqliteStore.layer)", (filename: string) => SqliteStore.layer({ filename })],
  ["a caller's client (layerFromClient)", (filename: string) => storeWithClient(filename)]
] as const

/**
 * The sweep: the writer yields every `ops` operations (each value puts the yield at another point of
 * its path; below 16 the runtime's own bookkeeping does not get through), and the transaction starts
 * after `delay` of the writer's slices.
 */
const rounds = Array.from({ length: 48 }, (_, i) => 16 + i).flatMap((ops) => [0, 1, 2, 3, 4, 5].map((delay) => ({ ops, delay })))

describe("R10 SQLite: a lone write is never run inside another fiber's transaction", () => {
  for (const [name, make] of paths) {
    it.scoped(`${name}: acknowledged lone writes survive a concurrent transaction's rollback, at every interleaving`, () =>
      Effect.gen(function*() {
        const filename = yield* tempDatabaseFile()
        const store = Context.get(yield* Layer.build(make(filename)), JobStore)
        const lost: Array<string> = []
        const joined: Array<string> = []
        for (const { delay, ops } of rounds) {
          const loneId = ids.job()
          const lone = newJob({ job_id: loneId })
          const insideId = ids.job()
          // The writer yields after every operation, so the other fiber runs between any two of them.
          const writer = yield* Effect.fork(Effect.locally(store.createJob(lone), FiberRef.currentMaxOpsBeforeYield, ops))
          const holder = yield* Effect.fork(Effect.gen(function*() {
            for (let i = 0; i < delay; i++) yield* Effect.yieldNow()
            yield* store.transaction(Effect.gen(function*() {
              yield* store.createJob(newJob({ job_id: insideId }))
              for (let i = 0; i < 200; i++) yield* Effect.yieldNow()
              return yield* Effect.fail(new Abort())
            }))
          }))
          const wrote = yield* Fiber.await(writer)
          const held = yield* Fiber.await(holder)
          assert.isTrue(Exit.isSuccess(wrote), `${ops}/${delay}: the lone write fails: ${String(wrote)}`)
          assert.isTrue(Exit.isFailure(held), `${ops}/${delay}: the transaction was meant to fail`)
          if ((yield* Effect.exit(store.getJob(loneId)))._tag === "Failure") lost.push(`${ops}/${delay}`)
          if ((yield* Effect.exit(store.getJob(insideId)))._tag === "Success") joined.push(`${ops}/${delay}`)
        }
        assert.deepStrictEqual(lost, [], "acknowledged lone writes undone by another fiber's rollback, at these ops/delay")
        assert.deepStrictEqual(joined, [], "the rolled-back transaction's own job is there")
      }), { timeout: 60_000 })
  }
})
