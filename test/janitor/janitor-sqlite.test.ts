import { sqliteFile } from "../support/stores.js"
import { runJanitorSuite } from "./janitor.suite.js"

runJanitorSuite(sqliteFile)
