/**
 * The announcement a write's caller lost to an interrupt (submit.ts,
 * submitMany.ts, move.ts, begin.ts's offer to workers): made on the interrupt's path only, and only when
 * the write is not inside a caller's own transaction. There the store's
 * statement has ended but nothing is committed yet — a read-back sees the
 * transaction's own rows, and the interrupt then rolls it back — so a
 * subscriber would be told of a job that never existed (found by a regression
 * probe). The caller's transaction decides; its commit is its own to announce.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { JobStore } from "../../store/JobStore.js"

/**
 * Whether the fiber is inside a transaction `store` joins (JobStore
 * `inOwnTransaction`): its own, or a caller's on its database. A caller's
 * transaction on another database is not joined — the store's write committed
 * on its own — so it does not count (found by a regression probe: a lost
 * claim inside an application's transaction on its own database was never
 * looked up). A store that does not say counts any transaction.
 */
export const inStoreTransaction = (store: JobStore["Type"]): Effect.Effect<boolean> =>
  store.inOwnTransaction ?? Effect.map(Effect.serviceOption(SqlClient.TransactionConnection), Option.isSome)

/** `announce` unless the fiber is inside a transaction `store` joins (the caller's): then nothing. */
export const unlessInTransaction = (store: JobStore["Type"], announce: Effect.Effect<void>): Effect.Effect<void> =>
  Effect.flatMap(inStoreTransaction(store), (inside) => inside ? Effect.void : announce)
