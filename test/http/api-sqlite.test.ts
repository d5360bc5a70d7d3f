import { sqliteFile } from "../support/stores.js"
import { runApiSuite } from "./api.suite.js"

runApiSuite(sqliteFile)
