import { sqliteFile } from "../support/stores.js"
import { runSecretTextSuite } from "./secret-text.suite.js"

runSecretTextSuite(sqliteFile)
