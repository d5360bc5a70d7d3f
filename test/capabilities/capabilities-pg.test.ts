import { postgres } from "../support/stores.js"
import { runEscalationSuite } from "./escalation.suite.js"
import { runEventPayloadSuite } from "./event-payload.suite.js"
import { pgWithReferenceRows } from "./referenceRows.js"
import { runRuntimeCheckSuite } from "./runtime-check.suite.js"
import { runViolationSuite } from "./violation.suite.js"

const backend = postgres("capabilities")

runEscalationSuite({ name: "PostgreSQL", fresh: backend.makeStore, withReferenceRows: pgWithReferenceRows })
runViolationSuite("PostgreSQL", backend.makeStore)
runRuntimeCheckSuite("PostgreSQL", backend.makeStore)
runEventPayloadSuite(backend)
