import { postgres } from "../support/stores.js"
import { runJobsSuite } from "./jobs.suite.js"

runJobsSuite(postgres("jobs"))
