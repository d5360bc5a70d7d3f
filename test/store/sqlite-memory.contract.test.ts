/**
 * The JobStore contract against SQLite in memory: one fresh database per test.
 * No second connection can reach an in-memory database, so concurrency tests
 * race fibers on one store.
 */
import { sqliteMemory } from "../support/stores.js"
import { runJobStoreContract } from "./contract.js"

runJobStoreContract(sqliteMemory)
