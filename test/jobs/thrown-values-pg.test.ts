import { postgres } from "../support/stores.js"
import { runThrownValuesSuite } from "./thrown-values.suite.js"

runThrownValuesSuite(postgres("jobs thrown values"))
