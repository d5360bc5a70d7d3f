/**
 * R17 the database's encoding is checked before anything else (found by an
 * outside probe). In a database created with ENCODING 'LATIN1' migrate failed
 * "0007_job_schedule failed: character with byte sequence 0xe2 0x80 0x94 in
 * encoding "UTF8" has no equivalent in encoding "LATIN1"" — a dash in a
 * comment of the library's own migration, nothing the operator could act on.
 * Now migrate, and a store built without migrating, fail first with a
 * MigrationFailed naming the encoding and how to create a UTF8 database.
 * SQL_ASCII, which stores the client's UTF-8 bytes as they are, is taken.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { DatabaseUrl, Jobs } from "../../src/index.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { services } from "../jobs/services.js"
import { dropDatabase, pgAdminUrl } from "../support/pg-database.js"
import { asAdmin, request } from "./pg-deployment.js"

/** A new database of `encoding` on the suite's server, dropped when the scope closes. */
const databaseIn = (encoding: string) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const name = `hsk_encoding_${encoding.toLowerCase()}_${Math.random().toString(16).slice(2, 10)}`
      yield* asAdmin(pgAdminUrl(), `CREATE DATABASE ${name} ENCODING '${encoding}' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`)
      const url = new URL(pgAdminUrl())
      url.pathname = `/${name}`
      return url.toString()
    }),
    (url) => Effect.promise(() => dropDatabase(url))
  )

const expected = /the database's encoding is LATIN1; the store needs a UTF8 database \(CREATE DATABASE … ENCODING 'UTF8' TEMPLATE template0\)/

describe("R17 a database whose encoding cannot hold the store's text is refused, naming its encoding", () => {
  it.scoped("R17 migrate on a LATIN1 database fails with MigrationFailed naming LATIN1 and UTF8, and creates nothing", () =>
    Effect.gen(function*() {
      const url = yield* databaseIn("LATIN1")
      const error = yield* Effect.flip(Effect.provide(PgStore.migrate, PgClient.layer({ url: Redacted.make(url) })))
      if (error._tag !== "MigrationFailed") return assert.fail(`expected MigrationFailed, got ${error.message}`)
      assert.match(error.message, expected)
      const [left] = yield* asAdmin(url, "SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace")
      assert.deepStrictEqual(left, { n: 0 })
    }), 60_000)

  it.scoped("R17 a store built without migrating on a LATIN1 database fails with the same refusal", () =>
    Effect.gen(function*() {
      const url = yield* databaseIn("LATIN1")
      const error = yield* Effect.flip(Effect.scoped(Layer.build(PgStore.layer({ url, migrate: false }))))
      assert.strictEqual(error._tag, "MigrationFailed")
      assert.match(error.message, expected)
    }), 60_000)

  it.live("R17 a SQL_ASCII database migrates, and a job's non-ASCII text reads back unchanged", () =>
    Effect.gen(function*() {
      const url = yield* databaseIn("SQL_ASCII")
      const text = "résumé — 東京 🚀"
      const read = yield* Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const job = yield* jobs.submit({ ...request, job_inputs: { text } })
        return (yield* jobs.get(job.job_id)).job_inputs
      }).pipe(Effect.provide(services(DatabaseUrl.layerFromUrl(url))))
      assert.deepStrictEqual(read, { text })
      const [stored] = yield* Effect.provide(
        Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ readonly t: string }>`SELECT job_inputs ->> 'text' AS t FROM ai_jobs`),
        PgClient.layer({ url: Redacted.make(url) })
      )
      assert.deepStrictEqual(stored, { t: text })
    }).pipe(Effect.scoped), 60_000)
})
