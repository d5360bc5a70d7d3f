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

/** `announce` unless the fiber is inside a transaction (the caller's): then nothing. */
export const unlessInTransaction = (announce: Effect.Effect<void>): Effect.Effect<void> =>
  Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (transaction) =>
    transaction._tag === "Some" ? Effect.void : announce)
