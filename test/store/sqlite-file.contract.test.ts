/**
 * The JobStore contract against SQLite on a file: a temporary file per test,
 * removed (with its WAL files) after. Two stores over one file are two
 * clients with their own connections, as two processes would be.
 */
import { sqliteFile } from "../support/stores.js"
import { runJobStoreContract } from "./contract.js"

runJobStoreContract(sqliteFile)
