/** The CLI under hostile input on PostgreSQL (see hostile.suite.ts). */
import { dropDatabase, freshDatabaseUrl } from "../support/pg-database.js"
import { runHostileCliSuite } from "./hostile.suite.js"

runHostileCliSuite({
  name: "PostgreSQL",
  create: () => freshDatabaseUrl("cli-hostile"),
  drop: dropDatabase
})
