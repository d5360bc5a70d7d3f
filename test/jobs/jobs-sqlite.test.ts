import { sqliteMemory } from "../support/stores.js"
import { runJobsSuite } from "./jobs.suite.js"

runJobsSuite(sqliteMemory)
