import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { sqliteFile } from "../support/stores.js"
import { runEscalationSuite } from "./escalation.suite.js"
import { runEventPayloadSuite } from "./event-payload.suite.js"
import { sqliteWithReferenceRows } from "./referenceRows.js"
import { runRuntimeCheckSuite } from "./runtime-check.suite.js"
import { runViolationSuite } from "./violation.suite.js"

runEscalationSuite({
  name: "SQLite",
  fresh: () => SqliteStore.layer({ filename: ":memory:" }),
  withReferenceRows: sqliteWithReferenceRows
})
runViolationSuite("SQLite file", sqliteFile.makeStore)
runRuntimeCheckSuite("SQLite file", sqliteFile.makeStore)
runEventPayloadSuite(sqliteFile)
