import { sqliteFile } from "../support/stores.js"
import { runSubmitAuditSuite } from "./submit-audit.suite.js"

runSubmitAuditSuite(sqliteFile)
