/**
 * The JobStore contract against PostgreSQL: a fresh database per store on the
 * test cluster (test/support/global-setup.ts), dropped after. Two stores over
 * one database are two connection pools, as two processes would be.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PgStore from "../../src/store/PgJobStore.js"
import { dropDatabase, freshDatabaseUrl } from "../support/pg-database.js"
import { runJobStoreContract } from "./contract.js"

/** The URL of a new, empty database, dropped when the scope closes. */
const freshDatabase = Effect.acquireRelease(
  Effect.promise(() => freshDatabaseUrl("job store contract")),
  (url) => Effect.promise(() => dropDatabase(url))
)

runJobStoreContract({
  name: "PostgreSQL",
  dialect: "pg",
  concurrent: true,
  makeStore: () => Layer.unwrapScoped(Effect.map(freshDatabase, (url) => PgStore.layer({ url }))),
  makeTwoStores: () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase
      const a = yield* Layer.build(PgStore.layer({ url }))
      const b = yield* Layer.build(PgStore.layer({ url }))
      return [a, b] as const
    })
})
