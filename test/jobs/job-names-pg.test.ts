import { postgres } from "../support/stores.js"
import { runJobNamesSuite } from "./job-names.suite.js"

runJobNamesSuite(postgres("jobs names"))
