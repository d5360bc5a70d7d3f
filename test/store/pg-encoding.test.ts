/**
 * R17 the database's encoding is checked before anything else (found by an
 * outside probe). In a database created with ENCODING 'LATIN1' migrate failed
 * "0007_job_schedule failed: character with byte sequence 0xe2 0x80 0x94 in
 * encoding "UTF8" has no equivalent in encoding "LATIN1"" — a dash in a
 * comment of the library's own migration, nothing the operator could act on.
 * Now migrate, and a store built without migrating, fail first with a
 * MigrationFailed naming the encoding and how to create a UTF8 database —
 * migrate's saying migrations failed, a build that migrates nothing (a read
 * command's) saying the store was not opened.
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
import { runCli } from "../cli/cli.js"
import { assertOneLineError } from "../cli/operator.suite.js"
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
/** A build that does not migrate refuses as this: what was refused, then why and what to do. */
const opened = /^Cannot open the store on this PostgreSQL database: the database's encoding is LATIN1; the store needs a UTF8 database \(CREATE DATABASE … ENCODING 'UTF8' TEMPLATE template0\)$/
/** And a read command as this, naming the database. */
const notOpened = /^error: cannot open database postgres:\/\/\S+: the database's encoding is LATIN1; the store needs a UTF8 database \(CREATE DATABASE … ENCODING 'UTF8' TEMPLATE template0\)$/

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

  it.scoped("R17 migrate's refusal says migrations failed: nothing else was being done", () =>
    Effect.gen(function*() {
      const url = yield* databaseIn("LATIN1")
      const error = yield* Effect.flip(Effect.provide(PgStore.migrate, PgClient.layer({ url: Redacted.make(url) })))
      assert.strictEqual(error._tag, "MigrationFailed")
      assert.match(error.message, /^PostgreSQL migrations failed: the database's encoding is LATIN1;/)
    }), 60_000)

  it.scoped("R17 a store built without migrating (migrate: false, readonly) on a LATIN1 database is refused as not opened, not as migrations failed: nothing was being migrated", () =>
    Effect.gen(function*() {
      const url = yield* databaseIn("LATIN1")
      for (const options of [{ migrate: false }, { readonly: true }]) {
        const error = yield* Effect.flip(Effect.scoped(Layer.build(PgStore.layer({ url, ...options }))))
        if (error._tag !== "MigrationFailed") return assert.fail(`expected MigrationFailed, got ${error.message}`)
        assert.strictEqual(error.during, "open")
        assert.match(error.message, opened)
        assert.notMatch(error.message, /migrat/i)
      }
    }), 60_000)

  it.scoped("R17 ai-jobs jobs list on a LATIN1 database exits 1 with one line saying the store cannot be opened there and how to create a UTF8 database", () =>
    Effect.gen(function*() {
      const url = yield* databaseIn("LATIN1")
      const result = yield* Effect.promise(() => runCli(["jobs", "list", "--database", url]))
      assertOneLineError(result, 1, notOpened)
      assert.notMatch(result.stderr, /migrat/i)
    }), 120_000)

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
