import { postgres } from "../support/stores.js"
import { runHostileApiSuite } from "./hostile.suite.js"

runHostileApiSuite(postgres("http hostile"))
