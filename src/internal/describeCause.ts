/** Turns an Effect failure into the one-line text stored as a job's or run's `error_message`. */
import * as Cause from "effect/Cause"

const MAX = 4000

/** `Tag: message` for tagged errors, the message for plain errors, JSON or text otherwise; bounded in length. */
export const describeCause = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  let text: string
  if (error instanceof Error) {
    const tag = (error as { readonly _tag?: unknown })._tag
    text = typeof tag === "string" && tag !== error.message ? `${tag}: ${error.message}` : error.message || error.name
  } else if (typeof error === "object" && error !== null) {
    try {
      text = JSON.stringify(error)
    } catch {
      text = String(error)
    }
  } else {
    text = String(error)
  }
  // U+0000 can't be stored by PostgreSQL; an error message must never fail to be recorded.
  const clean = text.replaceAll("\u0000", "\uFFFD")
  return clean.length > MAX ? `${clean.slice(0, MAX)}…` : clean
}
