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

/** What a failure whose every description threw is stored as: the job still settles. */
export const UNDESCRIBABLE = "a failure that could not be described (reading it threw)"

/** `Tag: message` for tagged errors, the message for plain errors, JSON or text otherwise. May throw: a getter, a Proxy trap, a `toString`. */
const describe = (error: unknown): string => {
  if (error instanceof Error) {
    const tag = (error as { readonly _tag?: unknown })._tag
    const message: unknown = error.message
    return typeof tag === "string" && tag !== message ? `${tag}: ${String(message)}` : String(message || error.name)
  }
  if (typeof error === "object" && error !== null) {
    try {
      // JSON.stringify gives undefined for some objects (a toJSON returning undefined).
      return JSON.stringify(error) ?? String(error)
    } catch {
      return String(error)
    }
  }
  return String(error)
}

/**
 * `describe`d, bounded in length, always storable — and never throws: a failure
 * value whose `toString`, getters or Proxy traps throw left its job and run
 * `running` for ever, the settle never written.
 */
export const describeCause = (cause: Cause.Cause<unknown>): string => {
  let text: string
  try {
    text = describe(Cause.squash(cause))
  } catch {
    text = UNDESCRIBABLE
  }
  const clean = escapeUnstorable(text)
  return clean.length > MAX ? `${truncateStorable(clean, MAX)}…` : clean
}
