/**
 * The JobStore contract against SQLite on a caller's own client
 * (`SqliteStore.layerFromClient` over @effect/sql-sqlite-node's client): the
 * path the store takes when it does not open its client itself. The other
 * SQLite suites build `SqliteStore.layer`, which runs on the store's own
 * client (sqlite/ownClient.ts, issue 16); both paths must behave the same.
 * A file per store; two stores on one file are two clients, as two
 * processes would have.
 */
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { Backend } from "../support/backend.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { runJobStoreContract } from "./contract.js"
import { tempDatabaseFile } from "./sqlite-support.js"

/** The store over a caller's client on `filename`, with that client alongside. */
const onCallersClient = (filename: string) =>
  SqliteStore.layerFromClient().pipe(Layer.provideMerge(SqliteClient.layer({ filename })))

const sqliteCallersClient: Backend = {
  name: "SQLite file, a caller's client",
  dialect: "sqlite",
  makeStore: () => Layer.unwrapScoped(Effect.map(tempDatabaseFile(), onCallersClient)),
  makeStoreWithSql: () => Layer.unwrapScoped(Effect.map(tempDatabaseFile(), onCallersClient)),
  makeTwoStores: () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      const a = yield* Layer.build(onCallersClient(filename))
      const b = yield* Layer.build(onCallersClient(filename))
      return [a, b] as const
    })
}

runJobStoreContract(sqliteCallersClient)
