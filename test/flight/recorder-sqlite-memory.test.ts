/**
 * The Flight Recorder contract on SQLite in memory: one fresh database per
 * test, the raw SQL client being the store's own (nothing else can reach it).
 */
import { sqliteMemory } from "../support/stores.js"
import { recorderContract } from "./recorder.contract.js"

recorderContract(sqliteMemory)
