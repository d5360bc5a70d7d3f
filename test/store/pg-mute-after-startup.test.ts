/**
 * A server that completes the PostgreSQL startup but never answers a query —
 * PgBouncer in transaction mode whose server pool is full behaves so: the login
 * succeeds at once and the first statement waits for a server connection
 * (found by an outside probe). The store sets `DateStyle = ISO` on each new
 * connection before handing it out (pg/sessionSettings.ts); done inside the client's
 * own connect, the pool's connect timer ended that SET's socket while nobody
 * listened for its error, and the whole process crashed; a SET ended by the
 * query timeout left the connection open, so the process never exited. Now the
 * build fails with a `StorageError` either way, and every connection to the
 * server is closed.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as net from "node:net"
import * as PgStore from "../../src/store/PgJobStore.js"

/** A server that sends AuthenticationOk and ReadyForQuery to any startup, then swallows every query. */
const muteAfterStartup = Effect.acquireRelease(
  Effect.async<{ readonly port: number; readonly open: () => number }>((resume) => {
    const sockets = new Set<net.Socket>()
    const server = net.createServer((socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
      socket.on("error", () => {})
      let started = false
      socket.on("data", () => {
        if (started) return
        started = true
        socket.write(Buffer.concat([Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0]), Buffer.from([0x5a, 0, 0, 0, 5, 0x49])]))
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      resume(Effect.succeed({ port, open: () => sockets.size, close: () => (sockets.forEach((s) => s.destroy()), server.close()) }))
    })
  }),
  (server) => Effect.sync(() => (server as unknown as { close: () => void }).close())
)

const buildFailure = (options: PgStore.PgStoreOptions) =>
  Effect.map(Effect.exit(Effect.scoped(Layer.build(PgStore.layer(options)))), (exit) =>
    Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : exit)

describe("PgStore.layer against a server that never answers after its startup", () => {
  it.live("R17 the connect timeout ends the build with a StorageError, and nothing crashes", () =>
    Effect.gen(function*() {
      const server = yield* muteAfterStartup
      const error = yield* buildFailure({ url: `postgres://u@127.0.0.1:${server.port}/db`, connectTimeout: "1 second" })
      assert.strictEqual((error as { _tag?: string })._tag, "StorageError", String(error))
      // The connection whose SET is unanswered is ended at its query timeout (statementTimeout and a
      // little more, 65 s by default), as any unanswered statement's: not here, and not a crash.
    }).pipe(Effect.scoped), 30_000)

  it.live("R17 a SET ended by the query timeout ends the build with a StorageError, and its connection is closed", () =>
    Effect.gen(function*() {
      const server = yield* muteAfterStartup
      const error = yield* buildFailure({ url: `postgres://u@127.0.0.1:${server.port}/db`, connectTimeout: "30 seconds", statementTimeout: "1 second" })
      assert.strictEqual((error as { _tag?: string })._tag, "StorageError", String(error))
      yield* Effect.sleep("300 millis")
      assert.strictEqual(server.open(), 0, "no connection left open")
    }).pipe(Effect.scoped), 30_000)
})
