/**
 * R17 the SQLite store on a path that is no regular file: a named pipe, a
 * device or a socket is a `StorageError` naming it, before SQLite opens it.
 * SQLite opened a named pipe read-only and then waited on it for ever,
 * blocking the whole process (no timeout fired), and read `/dev/zero` as an
 * empty database (found by an outside probe). The opens run in a child
 * process (list-jobs-child.ts), so a hang is a killed child, not a stuck suite.
 */
import { execFile, execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Storage from "../../src/store/DatabaseUrl.js"
import * as SqliteJobStore from "../../src/store/SqliteJobStore.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import { nodeArgsFor } from "../support/bundle.js"
import { tempSqliteFile } from "../support/stores.js"
import { failureOf } from "./fixtures.js"

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), "list-jobs-child.ts")

interface Listed {
  readonly jobs?: ReadonlyArray<string>
  readonly error?: { readonly _tag: string; readonly operation?: string; readonly message: string }
}

/** Opens the store `url` names with `options` in a child process and lists its jobs; a child that never answers is killed and fails the test. */
const listInChild = async (url: string, options: Storage.StorageOptions): Promise<Listed> => {
  const line = [process.execPath, ...await nodeArgsFor(child), url, JSON.stringify(options)]
  return new Promise((resolve, reject) => {
    execFile(line[0]!, line.slice(1), { cwd: "/", timeout: 60_000, killSignal: "SIGKILL" }, (error, stdout, stderr) => {
      if (error !== null) return reject(new Error(`the open of ${url} never answered or crashed: ${error.message}\n${stderr}`))
      resolve(JSON.parse(stdout) as Listed)
    })
  })
}

const assertRefused = (listed: Listed, filename: string, what: string) => {
  assert.isUndefined(listed.jobs, `${filename} opened as a database`)
  assert.strictEqual(listed.error?._tag, "StorageError")
  assert.include(listed.error?.message, `${filename} is not a regular file but ${what}`)
}

describe("SQLite store on a path that is no regular file (R17)", { timeout: 180_000 }, () => {
  it("R17 a named pipe is a StorageError naming it, read-only (option or ?mode=ro) or not, and is left as it was", async () => {
    const pipe = tempSqliteFile("fifo")
    execFileSync("mkfifo", [pipe])
    const cases: ReadonlyArray<readonly [string, Storage.StorageOptions]> = [
      [pipe, { readonly: true }],
      [`sqlite:${pipe}?mode=ro`, {}],
      [pipe, {}]
    ]
    for (const [url, options] of cases) assertRefused(await listInChild(url, options), pipe, "a named pipe")
    assert.isTrue(fs.statSync(pipe).isFIFO())
    assert.deepStrictEqual(fs.readdirSync(path.dirname(pipe)), [path.basename(pipe)], "no -wal, -shm or journal beside it")
  })

  it("R17 a device (/dev/zero, /dev/null) is a StorageError, never an empty database of schema version 0", async () => {
    for (const device of ["/dev/zero", "/dev/null"]) {
      assertRefused(await listInChild(device, { readonly: true }), device, "a device")
      assertRefused(await listInChild(`sqlite:${device}?mode=ro`, {}), device, "a device")
    }
  })

  it.effect("R17 SqliteJobStore.layer refuses a device and a socket read-only with a StorageError naming the path", () =>
    Effect.gen(function*() {
      const socketPath = tempSqliteFile("socket")
      const server = net.createServer()
      yield* Effect.async<void>((resume) => void server.listen(socketPath, () => resume(Effect.void)))
      try {
        for (const [filename, what] of [["/dev/zero", "a device"], [socketPath, "a socket"]] as const) {
          const error = yield* failureOf(Effect.scoped(Layer.build(SqliteJobStore.layer({ filename, readonly: true }))))
          assert.instanceOf(error, StorageError)
          assert.include(error.message, `${filename} is not a regular file but ${what}`)
        }
      } finally {
        server.close()
      }
    }))
})
