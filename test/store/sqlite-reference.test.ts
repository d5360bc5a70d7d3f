/** Issue 12 on SQLite: a file written by the reference implementation upgrades in place. */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { writeReferenceSqlite } from "../fixtures/referenceDatabase.js"
import { ReferenceProbe, referenceUpgradeSuite } from "./reference-upgrade.suite.js"
import { rawNumber, storeWithClient, tempDatabaseFile } from "./sqlite-support.js"

const probe = Layer.effect(ReferenceProbe, Effect.map(SqlClient.SqlClient, (sql) => ReferenceProbe.of({
  count: (table) => Effect.provideService(rawNumber(`SELECT count(*) AS n FROM ${table}`), SqlClient.SqlClient, sql)
})))

referenceUpgradeSuite({
  name: "SQLite file",
  upgraded: () =>
    Layer.unwrapScoped(Effect.gen(function*() {
      const filename = yield* tempDatabaseFile("reference.db")
      yield* writeReferenceSqlite(filename)
      return Layer.provideMerge(probe, storeWithClient(filename))
    }))
})
