import { sqliteFile } from "../support/stores.js"
import { runSpecSweep } from "./spec-sweep.suite.js"

runSpecSweep(sqliteFile)
