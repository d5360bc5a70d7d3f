/**
 * R17 A shipped migration file is never edited. The Migrator runs a file once
 * per database and never again, so an edited file reaches only databases
 * created after the edit: PostgreSQL's 0016 and 0020 were edited in place
 * once, and databases migrated by their first texts kept their old schema
 * until 0026 repaired it. migration-texts.json records the SHA-256 of every
 * shipped file; a file whose text differs, one not recorded, or one recorded
 * and gone fails here, saying what to do.
 *
 * Adding a migration: add its hash to migration-texts.json (the failure
 * prints the line). Changing what an applied migration did: write a new
 * migration that brings every database there, and leave the old file as it
 * shipped.
 */
import { assert, describe, it } from "@effect/vitest"
import { createHash } from "node:crypto"
import { readdirSync, readFileSync } from "node:fs"

const recorded = JSON.parse(readFileSync(new URL("./migration-texts.json", import.meta.url), "utf8")) as Record<string, string>

/** Every shipped migration file, as `<dialect>/<file>`, with the SHA-256 of its text. */
const shipped = (["pg", "sqlite"] as const).flatMap((dialect) => {
  const directory = new URL(`../../migrations/${dialect}/`, import.meta.url)
  return readdirSync(directory)
    .filter((file) => /^\d{4}_\w+\.sql$/.test(file))
    .map((file) => [`${dialect}/${file}`, createHash("sha256").update(readFileSync(new URL(file, directory))).digest("hex")] as const)
})

describe("R17 shipped migration files keep the text they shipped with", () => {
  it("R17 every migration file's text is the one recorded in test/store/migration-texts.json", () => {
    const problems = shipped.flatMap(([file, hash]) => {
      const was = recorded[file]
      if (was === undefined) {
        return [`migrations/${file} is new: record its text in test/store/migration-texts.json as "${file}": "${hash}"`]
      }
      if (was !== hash) {
        return [
          `migrations/${file} changed after it shipped. A database that applied it never runs it again, so the change would reach only new databases: ` +
          `restore the file and put the change in a new migration. (Only if this file has never shipped, record its new text: "${file}": "${hash}")`
        ]
      }
      return []
    })
    const files = new Set<string>(shipped.map(([file]) => file))
    for (const file of Object.keys(recorded)) {
      if (!files.has(file)) problems.push(`migrations/${file} is recorded but gone: a shipped migration is never removed`)
    }
    assert.deepStrictEqual(problems, [])
  })
})
