/**
 * The Flight Recorder contract on SQLite in memory: one fresh database per
 * test, the raw SQL client being the store's own (nothing else can reach it).
 */
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Layer from "effect/Layer"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { recorderContract } from "./recorder.contract.js"

recorderContract({
  name: "SQLite in memory",
  makeStore: () => SqliteStore.layerFromClient().pipe(Layer.provideMerge(SqliteClient.layer({ filename: ":memory:" })))
})
