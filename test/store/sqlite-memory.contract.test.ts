/**
 * The JobStore contract against SQLite in memory: one fresh database per test.
 * No second connection can reach an in-memory database, so concurrency tests
 * race fibers on one store.
 */
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { runJobStoreContract } from "./contract.js"

runJobStoreContract({
  name: "SQLite in memory",
  dialect: "sqlite",
  makeStore: () => SqliteStore.layer({ filename: ":memory:" })
})
