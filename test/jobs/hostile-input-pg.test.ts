import { postgres } from "../support/stores.js"
import { runHostileInputSuite } from "./hostile-input.suite.js"

runHostileInputSuite(postgres("jobs hostile input"))
