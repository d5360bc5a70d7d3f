/**
 * Contract: the store reports the schema version it runs on (for health
 * checks): the newest migration shipped for its dialect, once migrated.
 */
import { assert, describe } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { readdirSync } from "node:fs"
import { JobStore } from "../../../src/store/JobStore.js"
import { type Backend, storeTest } from "../../support/backend.js"

/** The shipped migration files of the dialect. */
const shippedFiles = (dialect: "sqlite" | "pg"): ReadonlyArray<string> => readdirSync(new URL(`../../../migrations/${dialect}/`, import.meta.url))

/** The `NNNN` of every shipped migration file of the dialect, in order. */
const shippedIds = (dialect: "sqlite" | "pg"): ReadonlyArray<number> =>
  shippedFiles(dialect)
    .map((file) => /^(\d{4})_\w+\.sql$/.exec(file)?.[1])
    .filter((id): id is string => id !== undefined)
    .map(Number)
    .sort((a, b) => a - b)

/** The highest `NNNN` among the dialect's shipped migration files. */
export const newestShipped = (dialect: "sqlite" | "pg"): number => Math.max(...shippedIds(dialect))

/** A shipped migration of the dialect as its file is named, without `.sql` (`0027_claim_by_kind`): how errors name it. */
export const shippedLabel = (dialect: "sqlite" | "pg", id: number): string => {
  const file = shippedFiles(dialect).find((name) => name.startsWith(`${String(id).padStart(4, "0")}_`) && name.endsWith(".sql"))
  if (file === undefined) throw new Error(`no shipped ${dialect} migration ${id}`)
  return file.slice(0, -".sql".length)
}

/**
 * The shipped migrations from `first` on: what a migration applies on a
 * database put back to before `first` (a test of one migration, kept true when later ones ship).
 */
export const shippedFrom = (dialect: "sqlite" | "pg", first: number): ReadonlyArray<number> =>
  shippedIds(dialect).filter((id) => id >= first)

/** schemaVersion contract tests. */
export const schemaContract = (backend: Backend): void => {
  const test = storeTest(backend)

  describe("schemaVersion", () => {
    test("R17 schemaVersion of a migrated store is the newest migration shipped for its dialect", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const expected = newestShipped(backend.dialect)
        assert.isAtLeast(expected, 3)
        assert.strictEqual(yield* store.schemaVersion, expected)
      }))
  })
}
