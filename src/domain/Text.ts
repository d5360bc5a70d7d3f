/**
 * Text as both databases can store it, byte for byte. PostgreSQL refuses
 * U+0000 (NUL) in `text` and `jsonb`, while SQLite keeps it; a lone UTF-16
 * surrogate has no UTF-8 form, so SQLite silently stores U+FFFD instead and
 * PostgreSQL refuses it. So that every backend behaves the same and nothing is
 * changed silently, the domain refuses both up front with a clear error.
 */
import * as Schema from "effect/Schema"

/** Whether a string can be stored unchanged by both databases. */
export const isStorable = (text: string): boolean => !text.includes("\u0000") && text.isWellFormed()
const message = () => "Text must not contain U+0000 (NUL) or a lone UTF-16 surrogate: neither can be stored as UTF-8 text"

/** A string without U+0000 or lone surrogates. */
export const Text = Schema.String.pipe(Schema.filter(isStorable, { message })).annotations({ identifier: "Text" })

/** A non-empty string without U+0000 or lone surrogates. */
export const NonEmptyText = Schema.NonEmptyString.pipe(Schema.filter(isStorable, { message })).annotations({
  identifier: "NonEmptyText"
})
