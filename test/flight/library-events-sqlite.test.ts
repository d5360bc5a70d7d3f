import { sqliteFile } from "../support/stores.js"
import { runLibraryEventsSuite } from "./library-events.suite.js"

runLibraryEventsSuite(sqliteFile)
