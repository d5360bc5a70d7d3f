/**
 * The JobStore contract against PostgreSQL: a fresh database per store on the
 * test cluster (test/support/global-setup.ts), dropped after. Two stores over
 * one database are two connection pools, as two processes would be.
 */
import { postgres } from "../support/stores.js"
import { runJobStoreContract } from "./contract.js"

runJobStoreContract(postgres("job store contract"))
