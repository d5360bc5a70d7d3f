/**
 * A submit waiting at the startup-recovery gate when the application closes
 * (found by an outside probe: `ManagedRuntime.dispose()` while recovery was
 * still scanning). Closing the layer interrupted the scan before it could say
 * its first try had ended, and the gate waited for that word for ever: the
 * submit never settled, and a script awaiting it exited without its answer.
 * Now closing the layer ends every wait at the gate with an interrupt, as a
 * `Jobs.await` is ended, and nothing is queued. On both stores, the scan held
 * mid-way (its first store call waits until the test lets it go, which it
 * never does) so the submit is sure to be at the gate.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { Jobs } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"
import { realSleep, sharedBackends } from "./shared-database.js"

for (const backend of sharedBackends) {
  describe(`the startup-recovery gate when the application closes, on ${backend.name}`, () => {
    it.live("R9 a submit and a submitMany waiting at the gate end interrupted when the layer closes, and nothing is queued", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("gate close")
        const inner = yield* database.store()
        const scanning = yield* Deferred.make<void>()
        const never = yield* Deferred.make<void>()
        // The scan's store calls wait here: recovery stays running until the layer closes.
        const held = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
          Effect.zipRight(Effect.zipRight(Deferred.succeed(scanning, undefined), Deferred.await(never)), effect)
        const store: JobStore["Type"] = {
          ...inner,
          findStaleRuns: (options) => held(inner.findStaleRuns(options)),
          stallStaleRuns: (options) => held(inner.stallStaleRuns(options))
        }
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(services(Layer.succeed(JobStore, store), Recovery.layerStartup()), scope)
        const jobs = Context.get(context, Jobs)
        const gate = Context.get(context, Recovery.RecoveryGate)
        yield* Deferred.await(scanning)
        assert.strictEqual(yield* gate.status, "running")
        const one = yield* Effect.fork(jobs.submit(summarize()))
        const many = yield* Effect.fork(jobs.submitMany([summarize(), summarize()]))
        // Both reach the gate (they do nothing else first that could end them).
        yield* realSleep(50)
        assert.isTrue((yield* Fiber.poll(one))._tag === "None" && (yield* Fiber.poll(many))._tag === "None", "waiting at the gate")
        yield* Scope.close(scope, Exit.void)
        // Before the fix these never settled: bounded here so the test fails instead of hanging.
        const settled = yield* Effect.timeout(Effect.all([Fiber.await(one), Fiber.await(many)]), "10 seconds")
        for (const exit of settled as ReadonlyArray<Exit.Exit<unknown, unknown>>) {
          assert.isTrue(Exit.isInterrupted(exit), `ended by an interrupt: ${String(exit)}`)
        }
        assert.deepStrictEqual((yield* inner.listJobs()).items, [], "nothing queued")
      }).pipe(Effect.scoped), 60_000)
  })
}
