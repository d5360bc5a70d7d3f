/**
 * Secret redaction (R14): every string of an event passes through these rules
 * before it is stored. Rules are regular expressions with a replacement; the
 * defaults catch bearer tokens, `sk-` API keys and passwords inside URLs, and
 * callers add their own.
 */

/** One redaction rule. `replacement` may use `$1`-style groups, as in `String.replace`. */
export interface RedactionRule {
  /** For diagnostics and tests. */
  readonly name: string
  readonly pattern: RegExp
  readonly replacement: string
}

/** What replaces a secret. */
export const REDACTED = "[REDACTED]"

/** `Authorization: Bearer abc.def.ghi` → `Authorization: Bearer [REDACTED]` (keeps the scheme word's case). */
export const bearerToken: RedactionRule = {
  name: "bearer-token",
  pattern: /\b(Bearer)\s+[A-Za-z0-9._~+/=-]+/gi,
  replacement: `$1 ${REDACTED}`
}

/** OpenAI-style keys: `sk-…` and `sk-proj-…` with at least 16 key characters. */
export const apiKey: RedactionRule = {
  name: "api-key",
  pattern: /\bsk-[A-Za-z0-9_-]{16,}/g,
  replacement: REDACTED
}

/**
 * `scheme://user:pass@host` → `scheme://user:[REDACTED]@host`. A match starts
 * at `://`, the scheme only looked back at: starting at every word of the text
 * and reading a scheme forward made a long `a-a-a-…` cost quadratic time
 * (a second per 40 kB, minutes per megabyte).
 */
export const urlPassword: RedactionRule = {
  name: "url-password",
  pattern: /(?<=[A-Za-z0-9+.-])(:\/\/[^\s:/?#@]*):[^\s/?#@]+@/g,
  replacement: `$1:${REDACTED}@`
}

/** The rules every recorder applies unless told otherwise. */
export const defaultRules: ReadonlyArray<RedactionRule> = [bearerToken, apiKey, urlPassword]

/** Redacts secrets from text. */
export interface Redactor {
  readonly rules: ReadonlyArray<RedactionRule>
  readonly redact: (text: string) => string
}

// A non-global pattern would replace only the first match: a second secret in
// the same string would be stored. Make every rule global.
const globalRule = (rule: RedactionRule): RedactionRule =>
  rule.pattern.global ? rule : { ...rule, pattern: new RegExp(rule.pattern.source, `${rule.pattern.flags}g`) }

/**
 * Builds a redactor from the default rules plus `rules` (applied after the
 * defaults, in order). `withDefaults: false` uses `rules` alone.
 */
export const make = (options: {
  readonly rules?: ReadonlyArray<RedactionRule>
  readonly withDefaults?: boolean
} = {}): Redactor => {
  const rules = [...(options.withDefaults === false ? [] : defaultRules), ...(options.rules ?? [])].map(globalRule)
  return {
    rules,
    redact: (text) => rules.reduce((current, rule) => current.replace(rule.pattern, rule.replacement), text)
  }
}
