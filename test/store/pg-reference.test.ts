/** Issue 12 on PostgreSQL: a database written by the reference implementation upgrades in place. */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PgStore from "../../src/store/PgJobStore.js"
import { buildReferencePg } from "../fixtures/referenceDatabase.js"
import { freshPgDatabase, rawPgClient } from "../support/pg-database.js"
import { ReferenceProbe, referenceUpgradeSuite } from "./reference-upgrade.suite.js"

const probe = Layer.effect(ReferenceProbe, Effect.map(SqlClient.SqlClient, (sql) => ReferenceProbe.of({
  count: (table) => Effect.map(sql<{ readonly n: string }>`SELECT count(*) AS n FROM ${sql(table)}`, ([row]) => Number(row?.n))
})))

referenceUpgradeSuite({
  name: "PostgreSQL",
  upgraded: () =>
    Layer.unwrapScoped(Effect.gen(function*() {
      const url = yield* freshPgDatabase("reference upgrade")
      yield* Effect.provide(buildReferencePg, rawPgClient(url))
      return Layer.merge(PgStore.layer({ url }), Layer.provideMerge(probe, rawPgClient(url)))
    }))
})
