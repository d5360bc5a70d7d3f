import { sqliteFile } from "../support/stores.js"
import { runHostileApiSuite } from "./hostile.suite.js"

runHostileApiSuite(sqliteFile)
