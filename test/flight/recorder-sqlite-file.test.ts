/**
 * The Flight Recorder contract on a SQLite file: a temporary file per test,
 * removed after. Raw SQL goes through a second client on the same file, as
 * another process would.
 */
import { sqliteFile } from "../support/stores.js"
import { recorderContract } from "./recorder.contract.js"

recorderContract(sqliteFile)
