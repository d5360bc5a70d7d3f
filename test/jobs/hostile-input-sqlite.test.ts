import { sqliteFile } from "../support/stores.js"
import { runHostileInputSuite } from "./hostile-input.suite.js"

runHostileInputSuite(sqliteFile)
