import { postgres } from "../support/stores.js"
import { runEscalationSuite } from "./escalation.suite.js"
import { pgWithReferenceRows } from "./referenceRows.js"

runEscalationSuite({
  name: "PostgreSQL",
  fresh: postgres("capabilities").layer,
  withReferenceRows: pgWithReferenceRows
})
