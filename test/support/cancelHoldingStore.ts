/**
 * A PostgreSQL store reached through a proxy that can hold its cancels
 * (test/reliability/tcpProxy.ts `holdCancels`): a cancel sent, its delivery
 * delayed until the test passes it on — a statement looked at ends, or the
 * connection's next one starts, in between, by the test's order, not luck.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { sleepRealTime } from "../../src/util/sleepRealTime.js"
import { startTcpProxy, type TcpProxy } from "../reliability/tcpProxy.js"

/** A store on `url` through a fresh proxy, both closed with the scope. */
export const cancelHoldingStore = (url: string) =>
  Effect.gen(function*() {
    const { hostname, port } = new URL(url)
    const proxy = yield* Effect.acquireRelease(
      Effect.promise(() => startTcpProxy({ host: hostname, port: Number(port) })),
      (proxy) => Effect.promise(() => proxy.close())
    )
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const store = Context.get(yield* Layer.buildWithScope(PgStore.layer({ url: proxy.via(url) }), scope), JobStore)
    return { proxy, store }
  })

/** Waits until `proxy` holds `count` cancels (sent, not passed on yet). */
export const cancelsHeld = (proxy: TcpProxy, count: number): Effect.Effect<void> =>
  Effect.gen(function*() {
    while (proxy.cancelsHeld() < count) yield* sleepRealTime(5)
  })
