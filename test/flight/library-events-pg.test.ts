import { postgres } from "../support/stores.js"
import { runLibraryEventsSuite } from "./library-events.suite.js"

runLibraryEventsSuite(postgres("library_events"))
