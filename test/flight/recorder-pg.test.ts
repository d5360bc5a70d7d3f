/**
 * The Flight Recorder contract on PostgreSQL: a fresh database per test on
 * the test cluster, dropped after. Raw SQL goes through a second pool.
 */
import { postgres } from "../support/stores.js"
import { recorderContract } from "./recorder.contract.js"

recorderContract(postgres("flight recorder"))
