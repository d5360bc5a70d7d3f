/** FR-EVT-004 in `ai-jobs jobs show`, on PostgreSQL (see evidence-missing.suite.ts). */
import { dropDatabase, freshDatabaseUrl } from "../support/pg-database.js"
import { runEvidenceMissingSuite } from "./evidence-missing.suite.js"

runEvidenceMissingSuite({
  name: "PostgreSQL",
  create: () => freshDatabaseUrl("cli-evidence-missing"),
  drop: dropDatabase
})
