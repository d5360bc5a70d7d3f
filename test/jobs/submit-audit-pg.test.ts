import { postgres } from "../support/stores.js"
import { runSubmitAuditSuite } from "./submit-audit.suite.js"

runSubmitAuditSuite(postgres("jobs submit audit"))
