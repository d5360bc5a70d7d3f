/**
 * A job's names — `protocol_id`, `profile_id` and the requested
 * `capability_profile_id` — are caller text its events carry (R14: the
 * `capability_action` events name the job's `profile_id` as their actor), yet
 * they are names: the policy looks them up, claims match them, an operator
 * searches for them. Redacted, a name is another name (`svc-bot
 * password=[REDACTED]` for every password) and the row would differ from the
 * caller's; kept, the secret is stored. So a name the recorder's redaction
 * rules would change is refused at submit, a `DecodeFailure` naming its field,
 * and nothing is decided, stored or recorded: the row and its events hold the
 * same name, the one the caller gave (in NFC, as `Identifier` decodes it).
 */
import { DecodeFailure } from "../../domain/Errors.js"
import { toNfc } from "../../domain/Text.js"

/** Names found clean, remembered at most: a service's callers use few profiles and protocols. */
export const MAX_CLEAN_NAMES = 256

/** The names of a decoded request that reach its row and its events. */
const NAME_FIELDS = ["protocol_id", "profile_id", "capability_profile_id"] as const

type Named = { readonly [K in (typeof NAME_FIELDS)[number]]?: string | undefined }

/**
 * The check, over `redact` (the recorder's): `(request, path)` gives the
 * `DecodeFailure` for a request holding a secret in a name (`path` leads each
 * issue's path: a batch's index), or undefined. A name found clean is
 * remembered, so a submit of a known profile and protocol costs a set look-up each.
 */
export const makeSecretNames = (redact: (text: string) => string) => {
  const clean = new Set<string>()
  const redactedForm = (name: string): string | undefined => {
    if (clean.has(name)) return undefined
    // As the events store it (Privacy.ts sanitizeText): the name is NFC already.
    const stored = toNfc(redact(name))
    if (stored !== name) return stored
    clean.add(name)
    if (clean.size > MAX_CLEAN_NAMES) clean.delete(clean.values().next().value!)
    return undefined
  }
  const issuesOf = (request: Named, path: string) =>
    NAME_FIELDS.flatMap((field) => {
      const name = request[field]
      const stored = name === undefined ? undefined : redactedForm(name)
      return stored === undefined ? [] : [{
        path: `${path}${field}`,
        message: `holds what the redaction rules take for a secret (its events would store ${JSON.stringify(stored)}): ` +
          "a name is stored and looked up as given, so it is refused rather than stored redacted"
      }]
    })
  return {
    /** The failure for one request, or undefined. */
    one: (request: Named): DecodeFailure | undefined => {
      // The usual submit: names already found clean, and no list built.
      if (
        clean.has(request.profile_id!) && clean.has(request.protocol_id!) &&
        (request.capability_profile_id === undefined || clean.has(request.capability_profile_id))
      ) return undefined
      const issues = issuesOf(request, "")
      return issues.length === 0 ? undefined : new DecodeFailure({ subject: "JobRequest", issues })
    },
    /** The failure for a batch (every request's issues, paths led by its index), or undefined. */
    many: (requests: ReadonlyArray<Named>): DecodeFailure | undefined => {
      const issues = requests.flatMap((request, index) => issuesOf(request, `${index}.`))
      return issues.length === 0 ? undefined : new DecodeFailure({ subject: "JobRequest", issues })
    }
  }
}

/** The check `Jobs.submit` and `Jobs.submitMany` apply after decoding. */
export type SecretNames = ReturnType<typeof makeSecretNames>
