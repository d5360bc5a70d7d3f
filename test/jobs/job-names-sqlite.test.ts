import { sqliteFile } from "../support/stores.js"
import { runJobNamesSuite } from "./job-names.suite.js"

runJobNamesSuite(sqliteFile)
