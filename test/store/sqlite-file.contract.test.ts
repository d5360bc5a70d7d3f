/**
 * The JobStore contract against SQLite on a file: a temporary file per test,
 * removed (with its WAL files) after. Two stores over one file are two
 * clients with their own connections, as two processes would be.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { runJobStoreContract } from "./contract.js"

/** A database file in its own temporary folder, deleted when the scope closes. */
const tempDatabaseFile = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "hsk-contract-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
).pipe(Effect.map((dir) => path.join(dir, "jobs.db")))

runJobStoreContract({
  name: "SQLite file",
  dialect: "sqlite",
  makeStore: () => Layer.unwrapScoped(Effect.map(tempDatabaseFile, (filename) => SqliteStore.layer({ filename }))),
  makeTwoStores: () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile
      const a = yield* Layer.build(SqliteStore.layer({ filename }))
      const b = yield* Layer.build(SqliteStore.layer({ filename }))
      return [a, b] as const
    })
})
