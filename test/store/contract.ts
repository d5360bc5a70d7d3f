/**
 * The one JobStore contract suite. Every backend runs it unchanged; a
 * behaviour that differs between backends is a bug (DESIGN.md, testing rules).
 * Each test gets a fresh, migrated, empty store; tests name the requirement
 * they prove.
 */
import { describe } from "@effect/vitest"
import type { Backend } from "../support/backend.js"
import { claimOrderContract } from "./contract/claimOrder.js"
import { createClaimedContract } from "./contract/createClaimed.js"
import { eventContract } from "./contract/events.js"
import { inputContract } from "./contract/input.js"
import { jobContract } from "./contract/jobs.js"
import { lifecycleContract } from "./contract/lifecycle.js"
import { offerContract } from "./contract/offers.js"
import { ownershipContract } from "./contract/ownership.js"
import { pruningContract } from "./contract/pruning.js"
import { runContract } from "./contract/runs.js"
import { schemaContract } from "./contract/schema.js"
import { transactionContract } from "./contract/transactions.js"
import { updateContract } from "./contract/updates.js"
import { workerContract } from "./contract/workers.js"

/** Defines the whole JobStore contract suite against `backend`. */
export const runJobStoreContract = (backend: Backend): void => {
  const suite = backend.concurrent === true ? describe.concurrent : describe
  suite(`JobStore contract: ${backend.name}`, () => {
    jobContract(backend)
    lifecycleContract(backend)
    updateContract(backend)
    runContract(backend)
    ownershipContract(backend)
    workerContract(backend)
    claimOrderContract(backend)
    createClaimedContract(backend)
    offerContract(backend)
    pruningContract(backend)
    eventContract(backend)
    transactionContract(backend)
    inputContract(backend)
    schemaContract(backend)
  })
}
