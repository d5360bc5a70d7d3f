import { postgres } from "../support/stores.js"
import { runSpecSweep } from "./spec-sweep.suite.js"

runSpecSweep(postgres("spec sweep"))
