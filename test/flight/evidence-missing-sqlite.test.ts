/** FR-EVT-004 evidence missing due to retention, on SQLite (see evidence-missing.suite.ts). */
import { sqliteFile } from "../support/stores.js"
import { runEvidenceMissingSuite } from "./evidence-missing.suite.js"

runEvidenceMissingSuite(sqliteFile)
