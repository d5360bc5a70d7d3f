/**
 * Inputs that hit a bug already pinned by its own failing test. The fuzzers
 * count them apart instead of stopping at them, so they keep looking for
 * other problems while the fix is pending. Delete a predicate when its bug
 * is fixed: the fuzz then covers those inputs again.
 */

/**
 * `String(value)` throws (a null-prototype object, or JSON such as
 * `{"toString": 1}`). Schema.Union's discriminator calls it on an event's
 * `type`, so `FlightRecorder.prepare`/`record` die instead of refusing.
 * Pinned by fuzz-writes.test.ts "R10 FlightRecorder.record refuses an event whose type is …".
 */
export const hasNoPrimitiveForm = (value: unknown): boolean => {
  try {
    String(value)
    return false
  } catch {
    return true
  }
}

/** An event whose `type` has no string form (see `hasNoPrimitiveForm`). */
export const eventTypeWithoutStringForm = (input: unknown): boolean =>
  typeof input === "object" && input !== null && hasNoPrimitiveForm((input as { readonly type?: unknown }).type)

/** A UTF-16 surrogate without its partner. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/**
 * Text the domain schemas accept but the databases cannot hold unchanged: a
 * lone UTF-16 surrogate (SQLite reads it back as U+FFFD, PostgreSQL refuses
 * it in jsonb) or U+0000 (PostgreSQL refuses it: StorageError). Looks at every
 * string and key, iteratively. Pinned by fuzz-writes.test.ts "R5 R14 strings with lone UTF-16 surrogates or U+0000 …".
 */
export const holdsUnstorableText = (input: unknown): boolean => {
  const bad = (s: string) => LONE_SURROGATE.test(s) || s.includes("\u0000")
  const stack: Array<unknown> = [input]
  let visited = 0
  while (stack.length > 0 && visited < 1_000_000) {
    const value = stack.pop()
    visited += 1
    if (typeof value === "string") {
      if (bad(value)) return true
    } else if (typeof value === "object" && value !== null) {
      for (const key of Object.keys(value)) {
        if (bad(key)) return true
        stack.push((value as Record<string, unknown>)[key])
      }
    }
  }
  return false
}

/**
 * A new job whose own fields make its audit events invalid: an empty
 * `profile_id` (the capability_action event's `actor_id` must be non-empty)
 * or one too large for the event size bound. `Jobs.submit` dies on these.
 * Pinned by fuzz-writes.test.ts "R15 Jobs.submit refuses a profile_id its audit event cannot carry …".
 */
export const submitWithUnrecordableProfile = (input: unknown): boolean => {
  const profile = typeof input === "object" && input !== null ? (input as { readonly profile_id?: unknown }).profile_id : undefined
  return typeof profile === "string" && (profile === "" || profile.length > 30_000)
}
