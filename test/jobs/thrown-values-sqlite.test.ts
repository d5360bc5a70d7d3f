import { sqliteFile } from "../support/stores.js"
import { runThrownValuesSuite } from "./thrown-values.suite.js"

runThrownValuesSuite(sqliteFile)
