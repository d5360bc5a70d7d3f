/** The operator commands on PostgreSQL (see operator.suite.ts). */
import { dropDatabase, freshDatabaseUrl } from "../support/pg-database.js"
import { runOperatorSuite } from "./operator.suite.js"

runOperatorSuite({
  name: "PostgreSQL",
  create: () => freshDatabaseUrl("cli-operator"),
  drop: dropDatabase
})
