/**
 * Which migrations a migration run has in hand, on either store, for the
 * `StorageError` of the database failing to name them: "the database failed"
 * alone left an operator guessing which migration (0027_claim_by_kind?) was
 * being applied. Named as `MigrationFailed` names its migration.
 */
import * as Effect from "effect/Effect"
import { migrationLabel } from "./migrationLabel.js"

/** A migration: its number and name (`[27, "claim_by_kind"]`). */
type Migration = readonly [id: number, name: string]

/**
 * The run's pending migrations, the one whose file is running, and whether
 * the run's work has ended (its COMMIT next); nothing until the version is
 * read under the lock.
 */
export interface MigrationsInHand {
  /** The migrations this run applies, in order: those after the version read under the lock. */
  pending: ReadonlyArray<Migration>
  /** The migration whose file is running; undefined before the first and between files. */
  current: Migration | undefined
  /** Set once the transaction's work ended: what fails now is its COMMIT. */
  done: boolean
}

/** A run with nothing in hand yet. */
export const noMigrationsInHand = (): MigrationsInHand => ({ pending: [], current: undefined, done: false })

/** Starts a (new) try of the run with nothing in hand. */
export const clearInHand = (inHand: MigrationsInHand): void => {
  inHand.pending = []
  inHand.current = undefined
  inHand.done = false
}

/** Puts in hand the migrations of `shipped` after `before`, the version read under the lock: those the Migrator applies. */
export const pendingAfter = (inHand: MigrationsInHand, before: number, shipped: Iterable<Migration>): void => {
  inHand.pending = [...shipped].filter(([id]) => id > before).sort(([a], [b]) => a - b)
}

/** Runs one migration's file, in hand while it runs: a failure leaves it named. */
export const applying = <A, E, R>(inHand: MigrationsInHand, migration: Migration, file: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.suspend(() => {
    inHand.current = migration
    return Effect.tap(file, () => {
      inHand.current = undefined
    })
  })

/**
 * What the run was doing, for a `StorageError`'s operation: `, applying
 * migration 0024_editor_edit` while a file ran, else the pending ones (a
 * failure of the bookkeeping or of the COMMIT ends them all): `, committing
 * migrations 0001_initial to 0027_claim_by_kind` once the run's work ended,
 * `, applying …` before. Empty before the version was read under the lock.
 */
export const inHandSaid = (inHand: MigrationsInHand): string => {
  if (inHand.current !== undefined) return `, applying migration ${migrationLabel(...inHand.current)}`
  const first = inHand.pending[0]
  const last = inHand.pending[inHand.pending.length - 1]
  if (first === undefined || last === undefined) return ""
  const verb = inHand.done ? "committing" : "applying"
  return first === last
    ? `, ${verb} migration ${migrationLabel(...first)}`
    : `, ${verb} migrations ${migrationLabel(...first)} to ${migrationLabel(...last)}`
}
