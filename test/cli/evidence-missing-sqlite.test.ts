/** FR-EVT-004 in `ai-jobs jobs show`, on a SQLite file (see evidence-missing.suite.ts). */
import * as path from "node:path"
import { tempDir } from "./cli.js"
import { runEvidenceMissingSuite } from "./evidence-missing.suite.js"

runEvidenceMissingSuite({
  name: "SQLite",
  create: async () => path.join(tempDir("evidence-missing"), "jobs.db"),
  drop: async () => {}
})
