import { postgres } from "../support/stores.js"
import { runApiSuite } from "./api.suite.js"

runApiSuite(postgres("http api"))
