/**
 * R6, R9: a program a worker pool runs calls `jobs.start` on another job; the start commits but its answer
 * is lost (a store wrapper: committed, then a dropped connection's StorageError). That start is a caller's,
 * looked up and released to queued as any caller's — also while its pool drains. It was not: the pool's
 * "give up looking once closed" setting was set on the whole loop, and the program's fiber inherited it, so
 * in a draining pool the look gave up at once and the other job stayed running under a run nobody held
 * (found by a regression probe of the lost-claim fix). Both stores.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Scope from "effect/Scope"
import * as Jobs from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import * as WakeUp from "../../src/WakeUp.js"
import { summarize } from "../jobs/jobs.suite.js"
import { services } from "../jobs/services.js"
import { sharedBackends } from "../jobs/shared-database.js"

type Store = JobStore["Type"]
const lost = (operation: string) => new StorageError({ operation, cause: new Error("simulated: Connection terminated unexpectedly") })

for (const backend of sharedBackends) {
  describe(`R6 a pool's program whose own start lost its answer, on ${backend.name}`, () => {
    for (const closing of [false, true]) {
      it.live(`R6 the program's start is looked up and its job released to queued, its pool ${closing ? "closing (drain)" : "open"}`, () =>
        Effect.gen(function*() {
          const database = yield* backend.fresh("pool program start lost")
          const real = yield* database.store()
          const state = { armedTransaction: false, lost: 0 }
          const store: Store = {
            ...real,
            transaction: (effect) =>
              Effect.flatMap(real.transaction(effect), (value) => {
                if (!state.armedTransaction) return Effect.succeed(value)
                state.armedTransaction = false
                state.lost++
                return Effect.fail(lost("JobStore.transaction"))
              })
          }
          const ctx = yield* Layer.build(services(Layer.succeed(JobStore, store), Recovery.layerNoStartupRecovery, WakeUp.layerPollOnly))
          const jobs = Context.get(ctx, Jobs.Jobs)
          const lines: Array<string> = []
          const logger = Logger.make(({ logLevel, message }) => {
            lines.push(`${logLevel.label}: ${(Array.isArray(message) ? message : [message]).map(String).join(" ").slice(0, 240)}`)
          })
          // The child: a kind the pool does not claim.
          const child = yield* jobs.submit(summarize({ job_kind: "doc_edit" }))
          const started = yield* Deferred.make<void>()
          const go = yield* Deferred.make<void>()
          const result = yield* Deferred.make<string>()
          const scope = yield* Scope.make()
          yield* Scope.extend(Effect.provide(jobs.worker({
            concurrency: 1,
            pollInterval: "50 millis",
            eagerDispatch: false,
            handlers: {
              doc_summarize: () =>
                Effect.gen(function*() {
                  yield* Deferred.succeed(started, undefined)
                  yield* Deferred.await(go)
                  state.armedTransaction = true
                  const ex = yield* Effect.exit(jobs.start(child.job_id))
                  yield* Deferred.succeed(result, ex._tag === "Failure" ? "failed" : "started")
                  return { ok: true }
                })
            }
          }), Logger.replace(Logger.defaultLogger, logger)), scope)
          yield* jobs.submit(summarize())
          yield* Deferred.await(started)
          const closer = closing ? yield* Effect.fork(Scope.close(scope, Exit.void)) : undefined
          if (closing) yield* Effect.sleep("200 millis")
          yield* Deferred.succeed(go, undefined)
          const r = yield* Deferred.await(result)
          yield* Effect.sleep("300 millis")
          const after = yield* jobs.get(child.job_id)
          if (closer) yield* closer.await
          else yield* Scope.close(scope, Exit.void)
          assert.strictEqual(r, "failed", "the program's start failed with its lost answer")
          assert.strictEqual(state.lost, 1)
          assert.strictEqual(after.state, "queued", "the child whose start committed (answer lost) is released, as outside a pool")
        }).pipe(Effect.scoped), 60_000)
    }
  })
}
