import { postgres } from "../support/stores.js"
import { runSecretTextSuite } from "./secret-text.suite.js"

runSecretTextSuite(postgres("jobs secret text"))
