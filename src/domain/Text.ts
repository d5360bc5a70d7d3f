/**
 * Text as both databases can store it. PostgreSQL refuses U+0000 (NUL) in
 * `text` and `jsonb`, while SQLite keeps it; so that every backend behaves
 * the same, the domain refuses it up front with a clear error.
 */
import * as Schema from "effect/Schema"

const noNul = Schema.filter((text: string) => !text.includes("\u0000"), {
  message: () => "Text must not contain U+0000 (NUL), which PostgreSQL cannot store"
})

/** A string without U+0000. */
export const Text = Schema.String.pipe(noNul).annotations({ identifier: "Text" })

/** A non-empty string without U+0000. */
export const NonEmptyText = Schema.NonEmptyString.pipe(noNul).annotations({ identifier: "NonEmptyText" })
