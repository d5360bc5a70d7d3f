/**
 * An options object holds only the options it names. A misspelt option
 * (`kind` for `kinds`, `reasn` for `reason`) is refused with a
 * `DecodeFailure` naming the key, never dropped: dropped, its default takes
 * its place — for a claim's kinds or a list's states the default is "all",
 * so a worker would claim jobs of any kind and a listing come back
 * unfiltered. Job requests refuse unknown keys the same way (AiJob.ts).
 *
 * The common case — a plain object of known keys — is one loop over its
 * keys, with nothing allocated.
 */
import { DecodeFailure, type DecodeIssue } from "./Errors.js"
import { clipIssueText, MAX_DECODE_ISSUES } from "./issueBounds.js"

/** Effect Schema's words for an excess property, so every refusal of an unknown key reads alike. */
const unexpected = (known: ReadonlyArray<string>): string => `is unexpected, expected: ${known.map((key) => JSON.stringify(key)).join(" | ")}`

/**
 * Why `options` is refused — not an object, or a key `known` does not list
 * — or undefined when it is fine (`undefined` itself included: no options).
 * Keys whose value is `undefined` count as left out, as an optional field's
 * type allows. Symbol keys are left alone (nothing reads them).
 */
export const unknownOptions = (
  options: unknown,
  known: ReadonlyArray<string>,
  subject: string
): DecodeFailure | undefined => {
  if (options === undefined) return undefined
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    return new DecodeFailure({ subject, issues: [{ path: "", message: "Expected an object of options" }] })
  }
  let issues: Array<DecodeIssue> | undefined
  let more = 0
  try {
    for (const key in options) {
      if (!Object.prototype.hasOwnProperty.call(options, key)) continue
      // Every value is read once here, known keys' too: a getter or Proxy trap that throws is
      // refused now, named, rather than throwing later from where the option is used.
      const value = (options as Record<string, unknown>)[key]
      if (value === undefined || known.includes(key)) continue
      issues ??= []
      if (issues.length < MAX_DECODE_ISSUES) issues.push({ path: clipIssueText(key), message: unexpected(known) })
      else more++
    }
  } catch (thrown) {
    return new DecodeFailure({ subject, issues: [{ path: "", message: `Options that throw when read: ${thrownText(thrown)}` }] })
  }
  if (issues === undefined) return undefined
  if (more > 0) issues.push({ path: "", message: `… and ${more} more issues` })
  return new DecodeFailure({ subject, issues })
}

/** What a getter or trap threw, for the refusal; never throws itself. */
const thrownText = (thrown: unknown): string => {
  try {
    return clipIssueText(thrown instanceof Error ? String(thrown.message) : String(thrown))
  } catch {
    return "(what it threw cannot be read either)"
  }
}

/**
 * `options` as a plain object holding its known options, each read once here,
 * or why it is refused (as `unknownOptions` refuses it, or because reading an
 * option threw). What a caller checks and uses is the copy: a getter on the
 * prototype or a Proxy's `get` trap, which a walk of the own keys never
 * touches, would otherwise throw later, out of the Effect, where the option
 * is read.
 */
export const readOptions = <O extends object>(
  options: O | undefined,
  known: ReadonlyArray<string>,
  subject: string
): DecodeFailure | Partial<O> => {
  const refused = unknownOptions(options, known, subject)
  if (refused !== undefined) return refused
  const copy: Record<string, unknown> = {}
  if (options === undefined) return copy as Partial<O>
  try {
    for (const key of known) {
      const value = (options as Record<string, unknown>)[key]
      if (value !== undefined) copy[key] = value
    }
  } catch (thrown) {
    return new DecodeFailure({ subject, issues: [{ path: "", message: `Options that throw when read: ${thrownText(thrown)}` }] })
  }
  return copy as Partial<O>
}
