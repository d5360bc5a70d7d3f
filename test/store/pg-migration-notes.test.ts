/**
 * R17 a failed PostgreSQL migration says what PostgreSQL said (found by an
 * outside probe, with a view; views are now refused before 0002 runs). A
 * DBA's row-level security policy over a legacy column blocks 0002's type
 * change with "cannot alter type of a column used in a policy definition";
 * which policy, PostgreSQL says in the error's DETAIL, and MigrationFailed's message
 * dropped it, as it dropped every HINT (0002's own "Expected YYYY-MM-DD
 * HH:MM:SS …" for a timestamp it cannot read). Both are now in the message.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as PgStore from "../../src/store/PgJobStore.js"
import { buildLegacyDatabase, legacyIds } from "../fixtures/legacyPg.js"
import { freshPgDatabase } from "../support/pg-database.js"

const rawClient = (url: string) => PgClient.layer({ url: Redacted.make(url), transformJson: false })

/** The message of the MigrationFailed that migrating the legacy database, changed by `change`, fails with. */
const failureAfter = (change: string) =>
  Effect.gen(function*() {
    const url = yield* freshPgDatabase("pg migration notes")
    return yield* Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* buildLegacyDatabase
      yield* sql.unsafe(change)
      const error = yield* Effect.flip(PgStore.migrate)
      assert.strictEqual(error._tag, "MigrationFailed")
      return error.message
    }).pipe(Effect.provide(rawClient(url)))
  })

describe("R17 MigrationFailed carries PostgreSQL's detail and hint", () => {
  // A view in the way is now refused before 0002 runs, all of them named with the next step
  // (pg-legacy-views.test.ts); a row-level security policy still meets PostgreSQL's own refusal.
  it.scoped("R17 a policy over a legacy column blocks 0002: the message names the policy (PostgreSQL's detail)", () =>
    Effect.gen(function*() {
      const message = yield* failureAfter("CREATE POLICY dba_own_jobs ON ai_jobs USING (profile_id = current_user)")
      assert.match(message, /cannot alter type of a column used in a policy definition; detail: policy dba_own_jobs on table ai_jobs depends on column "profile_id"/)
    }), 60_000)

  it.scoped("R17 a legacy timestamp 0002 cannot read: the message carries 0002's hint", () =>
    Effect.gen(function*() {
      const message = yield* failureAfter(`UPDATE ai_jobs SET created_at = 'yesterday' WHERE id = '${legacyIds.pinnedJob}'`)
      assert.match(message, /ai_jobs\.created_at .* is not a timestamp in a known legacy form; hint: Expected YYYY-MM-DD HH:MM:SS \(UTC\) or RFC 3339 text/)
    }), 60_000)
})
