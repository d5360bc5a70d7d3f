import { postgres } from "../support/stores.js"
import { runJanitorSuite } from "./janitor.suite.js"

runJanitorSuite(postgres("janitor"))
