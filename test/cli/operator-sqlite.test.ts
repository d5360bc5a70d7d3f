/** The operator commands on a SQLite file (see operator.suite.ts). */
import * as path from "node:path"
import { tempDir } from "./cli.js"
import { runOperatorSuite } from "./operator.suite.js"

runOperatorSuite({
  name: "SQLite",
  create: async () => path.join(tempDir("operator"), "jobs.db"),
  drop: async () => {}
})
