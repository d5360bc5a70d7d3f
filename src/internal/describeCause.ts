/**
 * Turns an Effect failure into the text stored as a job's, run's or node's
 * `error_message`. That text is made by the library, not given by a caller,
 * and storing it must never fail (a failed settle would strand its job in
 * `running`), so it is made storable here on purpose: U+0000 and lone
 * surrogates are escaped (`escapeUnstorable`), and the length bound never
 * splits a surrogate pair.
 */
import * as Cause from "effect/Cause"
import { escapeUnstorable, truncateStorable } from "../domain/Text.js"

const MAX = 4000

/** `Tag: message` for tagged errors, the message for plain errors, JSON or text otherwise; bounded in length, always storable. */
export const describeCause = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  let text: string
  if (error instanceof Error) {
    const tag = (error as { readonly _tag?: unknown })._tag
    text = typeof tag === "string" && tag !== error.message ? `${tag}: ${error.message}` : error.message || error.name
  } else if (typeof error === "object" && error !== null) {
    try {
      // JSON.stringify gives undefined for some objects (a toJSON returning undefined).
      text = JSON.stringify(error) ?? String(error)
    } catch {
      text = String(error)
    }
  } else {
    text = String(error)
  }
  const clean = escapeUnstorable(text)
  return clean.length > MAX ? `${truncateStorable(clean, MAX)}…` : clean
}
