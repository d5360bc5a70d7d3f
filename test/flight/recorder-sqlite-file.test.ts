/**
 * The Flight Recorder contract on a SQLite file: a temporary file per test,
 * removed after. Raw SQL goes through a second client on the same file, as
 * another process would.
 */
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { recorderContract } from "./recorder.contract.js"

/** A database file in its own temporary folder, deleted when the scope closes. */
const tempDatabaseFile = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "hsk-recorder-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
).pipe(Effect.map((dir) => path.join(dir, "events.db")))

recorderContract({
  name: "SQLite file",
  makeStore: () =>
    Layer.unwrapScoped(Effect.map(tempDatabaseFile, (filename) =>
      // The store first (it migrates), then the raw client on the migrated file.
      Layer.merge(SqliteStore.layer({ filename }), SqliteClient.layer({ filename })))
    )
})
