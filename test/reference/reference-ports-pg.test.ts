import { postgres } from "../support/stores.js"
import { runReferencePorts } from "./reference-ports.suite.js"

runReferencePorts(postgres("reference ports"))
