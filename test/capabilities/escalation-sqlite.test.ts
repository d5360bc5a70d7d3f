import * as SqliteStore from "../../src/store/SqliteStore.js"
import { runEscalationSuite } from "./escalation.suite.js"
import { sqliteWithReferenceRows } from "./referenceRows.js"

runEscalationSuite({
  name: "SQLite",
  fresh: () => SqliteStore.layer({ filename: ":memory:" }),
  withReferenceRows: sqliteWithReferenceRows
})
