import { sqliteMemory } from "../support/stores.js"
import { runReferencePorts } from "./reference-ports.suite.js"

runReferencePorts(sqliteMemory)
