/**
 * Text as both databases can store it. PostgreSQL refuses U+0000 (NUL) in
 * `text` and `jsonb`, while SQLite keeps it; so that every backend behaves
 * the same, the domain refuses it up front with a clear error.
 */
import * as Schema from "effect/Schema"

const hasNoNul = (text: string): boolean => !text.includes("\u0000")
const message = () => "Text must not contain U+0000 (NUL), which PostgreSQL cannot store"

/** A string without U+0000. */
export const Text = Schema.String.pipe(Schema.filter(hasNoNul, { message })).annotations({ identifier: "Text" })

/** A non-empty string without U+0000. */
export const NonEmptyText = Schema.NonEmptyString.pipe(Schema.filter(hasNoNul, { message })).annotations({
  identifier: "NonEmptyText"
})
