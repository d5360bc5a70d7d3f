/**
 * Text as both databases can store it, byte for byte. PostgreSQL refuses
 * U+0000 (NUL) in `text` and `jsonb`, while SQLite keeps it; a lone UTF-16
 * surrogate has no UTF-8 form, so SQLite silently stores U+FFFD instead and
 * PostgreSQL refuses it. So that every backend behaves the same and nothing is
 * changed silently, the domain refuses both up front with a clear error.
 *
 * Caller text that breaks the rule is refused (`DecodeFailure`), never
 * rewritten. Text the library writes itself (a failure's description, an
 * error message quoting bad input) must never fail to be stored, so it is made
 * storable deliberately with `escapeUnstorable`, which spells such code units
 * out as `\u0000`-style escapes.
 */
import * as Schema from "effect/Schema"

/** Whether a string can be stored unchanged by both databases. */
export const isStorable = (text: string): boolean => !text.includes("\u0000") && text.isWellFormed()
const message = () => "Text must not contain U+0000 (NUL) or a lone UTF-16 surrogate: neither can be stored as UTF-8 text"

/**
 * Whether text holds something besides whitespace: Unicode `White_Space`,
 * what Rust's `str::trim` removes (the reference trims a name before it
 * checks one is there). Not JS's `trim`, which also removes U+FEFF.
 */
export const hasText = (text: string): boolean => /\P{White_Space}/u.test(text)

/**
 * Whether `text` is at most `max` characters (code points, as JSON Schema's
 * `maxLength` counts them), not UTF-16 units: 256 emoji are 256 characters.
 * Counted only when the units could exceed it.
 */
export const atMostCharacters = (text: string, max: number): boolean => {
  if (text.length <= max) return true
  let characters = 0
  for (const _ of text) if (++characters > max) return false
  return true
}

/**
 * `text` in Unicode NFC, the form the Flight Recorder stores caller text in
 * (R14). Text of code units below U+0300 only is NFC already (no character
 * there composes or decomposes), so the usual ASCII id skips the normaliser.
 */
export const toNfc = (text: string): string => {
  for (let index = 0; index < text.length; index++) if (text.charCodeAt(index) >= 0x300) return text.normalize("NFC")
  return text
}

/**
 * `text` as a JSON string with every non-ASCII UTF-16 unit written as a
 * `\uXXXX` escape: for messages naming two names that render alike
 * (`"E\u0301quipe"` and `"\u00c9quipe"` both show as Équipe).
 */
export const quoteAscii = (text: string): string =>
  JSON.stringify(text).replace(/[^\x20-\x7e]/g, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, "0")}`)

/** A string without U+0000 or lone surrogates. */
export const Text = Schema.String.pipe(Schema.filter(isStorable, { message })).annotations({ identifier: "Text" })

/** A non-empty string without U+0000 or lone surrogates. */
export const NonEmptyText = Schema.NonEmptyString.pipe(Schema.filter(isStorable, { message })).annotations({
  identifier: "NonEmptyText"
})

/**
 * `text` with every U+0000 and lone surrogate written out as a `\uXXXX`
 * escape (six ASCII characters): storable, and still readable as what it was.
 * Identity on text that is already storable.
 */
export const escapeUnstorable = (text: string): string =>
  isStorable(text)
    ? text
    : text.replace(
      // eslint-disable-next-line no-control-regex -- U+0000 is exactly what is being escaped
      /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g,
      (unit) => `\\u${unit.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`
    )

/**
 * The first `max` UTF-16 code units of `text`, one fewer when the cut would
 * split a surrogate pair (which would leave a lone surrogate behind).
 */
export const truncateStorable = (text: string, max: number): string => {
  if (text.length <= max) return text
  const code = text.charCodeAt(max - 1)
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max)
}

/**
 * `text` cut to `max` UTF-16 code units (never inside a surrogate pair),
 * saying how long it was: for messages that quote caller input.
 */
export const clipText = (text: string, max: number): string =>
  text.length <= max ? text : `${truncateStorable(text, max)}… (${text.length} characters in all)`
