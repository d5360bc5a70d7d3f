/**
 * The Flight Recorder contract on PostgreSQL: a fresh database per test on
 * the test cluster, dropped after. Raw SQL goes through a second pool.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as PgStore from "../../src/store/PgJobStore.js"
import { dropDatabase, freshDatabaseUrl } from "../support/pg-database.js"
import { recorderContract } from "./recorder.contract.js"

/** The URL of a new, empty database, dropped when the scope closes. */
const freshDatabase = Effect.acquireRelease(
  Effect.promise(() => freshDatabaseUrl("flight recorder")),
  (url) => Effect.promise(() => dropDatabase(url))
)

recorderContract({
  name: "PostgreSQL",
  makeStore: () =>
    Layer.unwrapScoped(Effect.map(freshDatabase, (url) =>
      Layer.merge(PgStore.layer({ url }), PgClient.layer({ url: Redacted.make(url), transformJson: false })))
    )
})
