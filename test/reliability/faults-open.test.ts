/**
 * Opening a database that is not there, or not a database (issue 11.9).
 * SQLite: the file's folder is created (the README's `./data/handshake.db`
 * must work in a fresh clone); a folder or a file that is not a database is
 * a `StorageError`, never a defect. PostgreSQL: a port nobody listens on is a
 * `StorageError` too (a mute server is in faults-network-pg.test.ts).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { JobStore } from "../../src/store/JobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import * as Storage from "../../src/store/DatabaseUrl.js"
import { newJob } from "../store/fixtures.js"

const tempFolder = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "hsk-open-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/** How building `layer` ended: the typed error's tag, "success", or a defect. */
const openOutcome = (layer: Layer.Layer<JobStore, unknown>) =>
  Effect.map(Effect.exit(Effect.scoped(Layer.build(layer))), (exit) => {
    if (Exit.isSuccess(exit)) return "success"
    return Option.match(Cause.failureOption(exit.cause), {
      onNone: () => `defect: ${Cause.pretty(exit.cause).split("\n")[0]}`,
      onSome: (error) => String((error as { readonly _tag?: unknown })._tag)
    })
  })

describe("reliability: opening a database that is not there", () => {
  it.scoped("R17 SqliteStore.layer and Storage.layerFromUrl create a missing parent folder and open the database in it", () =>
    Effect.gen(function*() {
      const dir = yield* tempFolder
      const layers = [
        SqliteStore.layer({ filename: path.join(dir, "a", "b", "jobs.db") }),
        Storage.layerFromUrl(`sqlite:${path.join(dir, "c", "jobs.db")}`),
        Storage.layerFromUrl(path.join(dir, "data", "handshake.db"))
      ]
      for (const layer of layers) {
        const store = Context.get(yield* Layer.build(layer), JobStore)
        const job = yield* store.createJob(newJob())
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "queued")
      }
      assert.isTrue(fs.existsSync(path.join(dir, "a", "b", "jobs.db")))
      assert.isTrue(fs.existsSync(path.join(dir, "data", "handshake.db")))
    }))

  it.scoped("R17 a SQLite path that is a folder, or a file that is not a database, is a StorageError from SqliteStore.layer and Storage.layerFromUrl", () =>
    Effect.gen(function*() {
      const dir = yield* tempFolder
      const notADatabase = path.join(dir, "notes.txt")
      fs.writeFileSync(notADatabase, "These are my notes, not a database. ".repeat(200))
      const below = path.join(notADatabase, "jobs.db")
      const outcomes = {
        folder: yield* openOutcome(SqliteStore.layer({ filename: dir })),
        folderByUrl: yield* openOutcome(Storage.layerFromUrl(`sqlite:${dir}`)),
        notADatabase: yield* openOutcome(SqliteStore.layer({ filename: notADatabase })),
        notADatabaseByUrl: yield* openOutcome(Storage.layerFromUrl(notADatabase)),
        belowAFile: yield* openOutcome(SqliteStore.layer({ filename: below }))
      }
      assert.deepStrictEqual(outcomes, {
        folder: "StorageError",
        folderByUrl: "StorageError",
        notADatabase: "StorageError",
        notADatabaseByUrl: "StorageError",
        belowAFile: "StorageError"
      })
      assert.strictEqual(fs.readFileSync(notADatabase, "utf8").slice(0, 10), "These are ", "the file is left as it was")
    }))

  it.scoped("R17 a PostgreSQL port nobody listens on is a StorageError from Storage.layerFromUrl", () =>
    Effect.gen(function*() {
      // Port 1 (tcpmux): privileged, so listen(0) never hands it to a test nor takes it as a connection's
      // source port, and nothing serves it. Not a port picked free and closed again: another process could
      // take that one before the store connects.
      const refused = yield* Effect.flip(Effect.scoped(Layer.build(Storage.layerFromUrl("postgres://nobody@127.0.0.1:1/nothing"))))
      assert.strictEqual(refused._tag, "StorageError")
      // Refused, as nobody listens: the connection was never made.
      const codes: Array<unknown> = []
      for (let cause: unknown = refused; cause instanceof Error; cause = cause.cause) codes.push((cause as { readonly code?: unknown }).code)
      assert.include(codes, "ECONNREFUSED")
    }))
})
