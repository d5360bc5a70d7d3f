/**
 * Read-only stores (`readonly: true`), for tools that only look: they read
 * what is there, migrate nothing, and any write is refused by the database
 * itself with a `StorageError`, leaving the data as it was. Both stores.
 */
import * as fs from "node:fs"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type { AiJob } from "../../src/domain/AiJob.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as Storage from "../../src/store/DatabaseUrl.js"
import { tempSqliteFile } from "../support/stores.js"
import { dropDatabase, freshDatabaseUrl } from "../support/pg-database.js"
import { encode, expectTag, failureOf, newJob } from "./fixtures.js"

const store = (url: string, options: Storage.StorageOptions) => Storage.layerFromUrl(url, options) as Layer.Layer<JobStore>

/** Migrates `url` and stores one job through an ordinary store. */
const seed = (url: string): Promise<AiJob> =>
  Effect.runPromise(Effect.flatMap(JobStore, (s) => s.createJob(newJob())).pipe(Effect.provide(store(url, {}))))

const databases: Array<{ readonly name: string; readonly url: () => Promise<string>; readonly drop: (url: string) => Promise<void> }> = [
  { name: "SQLite file", url: async () => tempSqliteFile("readonly"), drop: async () => {} },
  { name: "PostgreSQL", url: () => freshDatabaseUrl("readonly"), drop: dropDatabase }
]

for (const database of databases) {
  describe(`read-only store on ${database.name}`, () => {
    let url = ""
    let job: AiJob
    beforeAll(async () => {
      url = await database.url()
      job = await seed(url)
    }, 60_000)
    afterAll(() => database.drop(url))

    it.effect("R17 a read-only store reads jobs and events, and the database refuses every write with StorageError", () =>
      Effect.gen(function*() {
        const readOnly = yield* JobStore
        assert.deepStrictEqual((yield* readOnly.listJobs()).items.map(encode.job), [encode.job(job)])
        assert.deepStrictEqual(yield* readOnly.findJobIds(job.job_id.slice(-8)), [job.job_id])
        expectTag(yield* failureOf(readOnly.createJob(newJob())), "StorageError")
        expectTag(yield* failureOf(readOnly.transition({ job_id: job.job_id, to: "cancelled" })), "StorageError")
        expectTag(yield* failureOf(readOnly.setPinned(job.job_id, true)), "StorageError")
        assert.deepStrictEqual((yield* readOnly.listJobs()).items.map(encode.job), [encode.job(job)], "nothing changed")
      }).pipe(Effect.provide(store(url, { readonly: true }))))
  })
}

describe("read-only store migrates nothing", () => {
  it.effect("R16 a read-only store on an empty SQLite file creates no table, even when asked to migrate", () =>
    Effect.gen(function*() {
      const filename = tempSqliteFile("readonly-empty")
      fs.writeFileSync(filename, "")
      // Refused when built, as not migrated (behind-schema.test.ts), rather than failing at the first read.
      const error = expectTag(
        yield* failureOf(Effect.flatMap(JobStore, (s) => s.listJobs()).pipe(Effect.provide(store(filename, { readonly: true, migrate: true })))),
        "MigrationFailed"
      )
      assert.match((error as { readonly message: string }).message, /the database is not migrated/)
      assert.strictEqual(fs.statSync(filename).size, 0, "the file is still empty")
    }))
})
