/** FR-EVT-004 evidence missing due to retention, on PostgreSQL (see evidence-missing.suite.ts). */
import { postgres } from "../support/stores.js"
import { runEvidenceMissingSuite } from "./evidence-missing.suite.js"

runEvidenceMissingSuite(postgres("evidence missing"))
