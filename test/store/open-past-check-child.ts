/**
 * A child process for sqlite-permissions.test.ts: opens the SQLite file
 * argv 2 names for writes as the store would if the file turned read-only
 * between its check (`cannotWrite`) and SQLite's open — the store over the
 * driver's own client, no check before it — lists its jobs, and prints one
 * JSON line (childListing.ts), an error first passed through the store's
 * `explainRefusal`.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Layer from "effect/Layer"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { explainRefusal } from "../../src/store/sqlite/openFailure.js"
import { printListing } from "./childListing.js"

const [filename = ""] = process.argv.slice(2)

printListing(SqliteStore.layerFromClient().pipe(
  Layer.provide(SqliteClient.layer({ filename }).pipe(Layer.orDie, Layer.provide(Reactivity.layer))),
  Layer.mapError((error) => explainRefusal(filename, false, error))
))
