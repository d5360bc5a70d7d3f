/**
 * Secret redaction (R14): every string of an event passes through these rules
 * before it is stored. Rules are regular expressions with a replacement; the
 * defaults catch the kinds of secret the reference's Secret Redactor catches
 * (bearer tokens, `sk-` API keys, passwords inside URLs, cloud and chat
 * tokens, private keys, password and key assignments), HTTP Basic
 * credentials and cookie headers, and callers add their own. Personal data (e-mail addresses, phone numbers), which the reference
 * hides only in exported bundles, is left to the caller's rules.
 */
import { readThrew } from "../../domain/Errors.js"
import { URL_PASSWORD } from "../../util/urlPassword.js"

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

/**
 * `Authorization: Basic dXNlcjpwYXNz` → `Authorization: Basic [REDACTED]`: a user and password
 * in base64. Only after the header's name: `Basic` alone is too often a word.
 */
export const basicAuth: RedactionRule = {
  name: "basic-auth",
  pattern: /\b((?:proxy-)?authorization["']?\s*[:=]\s*["']?Basic)\s+[A-Za-z0-9+/=._~-]+/gi,
  replacement: `$1 ${REDACTED}`
}

/**
 * A `Cookie:` or `Set-Cookie:` header written as text (`request failed: Cookie: session=abc; theme=dark`)
 * → `Cookie: [REDACTED]`: its value to the end of the line, since a cookie's holds spaces, `;` and `,`
 * (`Expires=Wed, 21 Oct 2015 07:28:00 GMT`). Only a header whose value starts as a cookie does, a
 * name of at most 256 characters and `=` (`a=b`, a nameless `=b`; read no further, so a text of
 * `cookie:cookie:…` costs linear time): the word in prose (`the cookie banner`, `cookie: none set`)
 * keeps the rest of its line. In JSON text, where a document is one line, a line also ends at an
 * escaped line break (`\r\n`, which may also come just before the header's name) and the value at a
 * `"` (or escaped `\"`) that closes a string, one followed by `,`, `}` or `]`:
 * `{"headers":"Cookie: a=1","user":"ann"}` keeps its `user`.
 */
export const cookieHeader: RedactionRule = {
  name: "cookie-header",
  pattern: /(?:\b|(?<=\\[nr]))((?:set-)?cookie[ \t]*:[ \t]*)(?=[^\s;,="\\:]{0,256}=)(?:[^\r\n"\\]|"(?!\s*[,}\]])|\\(?![nr]|"\s*[,}\]]))+/gi,
  replacement: `$1${REDACTED}`
}

/**
 * OpenAI-style keys: `sk-…` and `sk-proj-…` with at least 16 key characters,
 * or at least 10 letters and digits in a row (the reference's shortest key).
 */
export const apiKey: RedactionRule = {
  name: "api-key",
  pattern: /\bsk-(?:[A-Za-z0-9]{10,}[A-Za-z0-9_-]*|[A-Za-z0-9_-]{16,})/g,
  replacement: REDACTED
}

/**
 * `scheme://user:pass@host` → `scheme://user:[REDACTED]@host`. A match starts
 * at `://`, the scheme only looked back at: starting at every word of the text
 * and reading a scheme forward made a long `a-a-a-…` cost quadratic time
 * (a second per 40 kB, minutes per megabyte). The password ends at the first
 * `@` followed by a host (URL_PASSWORD): one written with `/`, `?`, `#` or `@`
 * unencoded (`app:Zx9/Kq@host`, `ab@cd@host`) is masked whole, and an `@`
 * later in the path or query (`?notify=ops@example.com`) leaves the host shown.
 * Each match reads no further than the next `://`, so the text is still read
 * once. Digits then `/`, `?`, `#`, a space or the end are a port
 * (`host:8443/a@b`), as a URL parser reads them.
 */
export const urlPassword: RedactionRule = {
  name: "url-password",
  pattern: new RegExp(String.raw`(?<=[A-Za-z0-9+.-])(:\/\/[^\s:/?#@]*):(?!\d+(?:[\s/?#]|$))${URL_PASSWORD}@`, "g"),
  replacement: `$1:${REDACTED}@`
}

/** AWS access key ids (`AKIA…`, and `ASIA…` for temporary ones). */
export const awsAccessKeyId: RedactionRule = {
  name: "aws-access-key-id",
  pattern: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g,
  replacement: REDACTED
}

/** GitHub tokens: fine-grained `github_pat_…` and the classic `ghp_`/`gho_`/`ghu_`/`ghs_`/`ghr_` ones. */
export const githubToken: RedactionRule = {
  name: "github-token",
  pattern: /\b(?:github_pat_[A-Za-z0-9_]{22,}|gh[opusr]_[A-Za-z0-9]{36,})/g,
  replacement: REDACTED
}

/**
 * Slack bot, user and app tokens (`xoxb-…`, `xoxp-…`, `xapp-1-…`), and token rotation's refresh
 * tokens (`xoxe-1-…`) and rotating access tokens (`xoxe.xoxp-1-…`, masked whole).
 */
export const slackToken: RedactionRule = {
  name: "slack-token",
  pattern: /\b(?:(?:xoxe\.)?xox[abprs]|xoxe|xapp-\d)-[A-Za-z0-9-]{10,}/g,
  replacement: REDACTED
}

/** Google API keys (`AIza` and 35 more characters). */
export const googleApiKey: RedactionRule = {
  name: "google-api-key",
  pattern: /\bAIza[0-9A-Za-z_-]{35}/g,
  replacement: REDACTED
}

/** A JSON Web Token on its own (header and payload both start `eyJ`, the encoding of `{"`). */
export const jsonWebToken: RedactionRule = {
  name: "json-web-token",
  pattern: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g,
  replacement: REDACTED
}

/**
 * A PEM private key block, whole. A block cut off before its END line (a
 * truncated paste) is redacted to the end of the text: its key is still in it.
 */
export const privateKey: RedactionRule = {
  name: "private-key",
  pattern: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----|[\s\S]*$)/g,
  replacement: REDACTED
}

// The names a secret goes by, shared by the named-secret and secret-flag rules and by
// `secretNameKind` (a JSON key): names that are a secret whatever separates them from their
// value; bare `token`/`secret`, ODBC's `Pwd`, `credentials`, `auth` and `bearer`, which are one
// only in an assignment (`auth: failed` is prose; `PWD=/home/ann`, the shell's folder, is
// redacted too); and the suffixes a name may take (`DB_PASSWORD_PROD`), at most three, which
// keeps every match linear.
const SECRET_NAMES = String.raw`passw(?:or)?d|passphrase|api[_-]?key|secret[_-]?(?:access[_-]?)?key|access[_-]?key|client[_-]?secret|access[_-]?token|auth[_-]?token|refresh[_-]?token`
const ASSIGNED_NAMES = String.raw`token|secret|pwd|credentials?|auth|bearer`
const NAME_SUFFIXES = String.raw`(?:[_-][A-Za-z0-9]{1,32}){0,3}`
// A value: a whole quoted string (the quotes kept), its backslash escapes (`"ab\"cd"`) and a shell's
// `'\''` joins (`'it'\''s'`) inside it; a string of JSON inside a JSON string (`\"…\"`, after a
// name written `\"password\"`) up to its closing `\"`, its own escapes (`\\\"`, `\\n`) read two
// levels deep; a URL query's parameter (after `?` or `&`) up to the next `&`, `#`, quote or
// space, where a `&` of the value would be written `%26`; else up to the next space. A password
// holds `;`, `,`, `&` and quotes (`Xy7;k9!pQ2zR`): cut at one, its rest was stored. So
// `a=1;password=x;b=2` loses `b=2` too: a word too many, never a secret's tail.
// Linear still: a quoted value reads to its closing quote (one of its kind no backslash escapes),
// and each alternative has one way to read each character.
const SECRET_VALUE = String.raw`(?:(?<=\\")(?:[^"\\\n]|\\\\\\.|\\\\[^"\\]|\\[^"\\])*(?=\\")|(?<=")(?:[^"\\\n]|\\.)*(?=")|(?<=')(?:[^'\\\n]|\\.|'\\'')*(?=')|(?<=[?&][A-Za-z0-9_.-]*=)[^\s&#"]+|\S+)`
// After a quoted name and `:` (JSON, a Python dict), a value not quoted (`null`, `123456`, `{…}`):
// up to the next `,`, `}`, `]` or space, a `{…}` or `[…]` to its closing bracket when no bracket of
// its kind opens inside it (else to the next `,`, `}`, `]`). Compact JSON has no space: reading to
// one lost the rest of the document. Linear: a bracket reads to the next bracket of its kind.
const JSON_BARE_VALUE = String.raw`(?!["'\\])(?:\{[^{}\n]*\}|\[[^\[\]\n]*\]|[^\s,}\]]+)`

/**
 * A secret given a name: `password=…`, `DB_PASSWORD=…`, `"api_key": "…"`,
 * `--client-secret=…`, `aws_secret_access_key = …`. The name is kept, the
 * value (to the next space, a URL query's parameter to the next `&`, a whole
 * quoted string, escapes and all: SECRET_VALUE; after a quoted name and `:`,
 * to the next `,`, `}` or `]`: JSON_BARE_VALUE) is redacted. Like the
 * reference's, a name counts inside a longer one (`newpassword=…`). Bare
 * `token`/`secret` (and `pwd`, `credentials`, `auth`, `bearer`) count only with
 * `=` (an assignment): with `:` they are too often prose (`unexpected token: }`).
 */
export const namedSecret: RedactionRule = {
  name: "named-secret",
  // Linear by construction: a match starts at a secret's name, never at each
  // piece of a long identifier, and a name takes at most three suffixes.
  pattern: new RegExp(
    String.raw`((?:${SECRET_NAMES})${NAME_SUFFIXES}\\?["']\s*:\s*)${JSON_BARE_VALUE}|` +
      String.raw`((?:(?:${SECRET_NAMES})${NAME_SUFFIXES}(?:\\?["'])?\s*[:=]|(?:${ASSIGNED_NAMES})${NAME_SUFFIXES}(?:\\?["'])?\s*=)\s*(?:\\?["'])?)${SECRET_VALUE}`,
    "gi"
  ),
  replacement: `$1$2${REDACTED}`
}

// A `--flag` that is a secret's name, whole: `--password`, `--db-password`, `--api-key`,
// `--token`; not one that only contains it (`--password-file`, `--token-count`,
// `--secret-name`) nor a negation (`--no-password`). At most three words before the name.
const SECRET_FLAG = String.raw`--(?!no[_-])(?:[A-Za-z0-9]{1,32}[_-]){0,3}(?:${SECRET_NAMES}|${ASSIGNED_NAMES})`

/**
 * A secret given as a command-line flag's next word: `mysql --password hunter2`,
 * `--api-key "k 1"`, `--token abc`. Only a `--` flag at the start of a word that is a
 * secret's name whole (SECRET_FLAG), and not a value that is itself a flag.
 * `--password=…` is `namedSecret`'s.
 */
export const secretFlag: RedactionRule = {
  name: "secret-flag",
  pattern: new RegExp(String.raw`((?<![^\s"'])${SECRET_FLAG}[ \t]+["']?)(?!-)${SECRET_VALUE}`, "gi"),
  replacement: `$1${REDACTED}`
}

// A secret's name anywhere in a key or flag (the last one counts), and the headers that carry one.
const nameInKey = new RegExp(String.raw`${SECRET_NAMES}|private[_-]?key|${ASSIGNED_NAMES}`, "gi")
const bareName = /^(?:token|secret)$/i
const headerKey = /^(?:(?:proxy[_-]?)?authorization|(?:set[_-]?)?cookie)$/i
// Words after a secret's name that make the whole a name about it, not it (`password_file`, `token_count`).
const ABOUT_A_SECRET: ReadonlySet<string> = new Set([
  "file", "files", "path", "dir", "count", "counts", "name", "names", "prompt", "hash", "hashed", "digest",
  "length", "len", "min", "max", "policy", "rule", "rules", "required", "set", "enabled", "disabled", "type",
  "kind", "id", "ids", "field", "env", "var", "label", "hint", "expires", "expiry", "expiration", "age", "changed",
  "reset", "url", "uri", "usage", "limit", "limits", "size", "strength", "format", "encoding", "source", "mode",
  "ttl", "version", "at", "time", "timestamp", "date", "status", "state", "header", "prefix", "suffix",
  "method", "methods", "provider", "scheme", "endpoint"
])
// Words before a bare `token`/`secret` that make it something else: a tokenizer's special tokens, a page cursor, a count.
const NOT_A_SECRET_BEFORE: ReadonlySet<string> = new Set([
  "eos", "bos", "pad", "unk", "sep", "cls", "mask", "special", "next", "prev", "previous", "page", "continuation",
  "cursor", "max", "min", "num", "total", "stop", "start", "end", "sync"
])
const words = (text: string): ReadonlyArray<string> =>
  text.split(/[_\-.\s]+|(?<=[a-z0-9])(?=[A-Z])/).filter((word) => word !== "").map((word) => word.toLowerCase())

/**
 * How a JSON key (or a flag without its dashes) names a secret: `"secret"` when the value
 * under it is one (`password`, `DB_PASSWORD_PROD`, `api_key_v2`, `passwordConfirm`,
 * `SECRET_KEY_BASE`, `csrf_token`), `"header"` for a header that carries one (`Authorization`,
 * `Cookie`: its text), null otherwise — a name about a secret (`password_file`, `token_count`,
 * `password_hash`), a longer word (`prompt_tokens`, `tokenizer`), a special or paging token
 * (`eos_token`, `next_page_token`).
 */
export const secretNameKind = (key: string): "secret" | "header" | null => {
  if (headerKey.test(key)) return "header"
  let last: RegExpExecArray | null = null
  nameInKey.lastIndex = 0
  for (let match = nameInKey.exec(key); match !== null; match = nameInKey.exec(key)) last = match
  if (last === null) return null
  const rest = key.slice(last.index + last[0].length)
  // More than a name after it (`password=[REDACTED]`, `password: x`): text, whose secret the text rules have.
  if (!/^[A-Za-z0-9_.\s-]*$/.test(rest)) return null
  // Straight on into lower-case letters (or any letter of an all-capitals key): a longer word, not the name.
  if (/^[A-Za-z]/.test(rest) && !(/^[A-Z]/.test(rest) && /[a-z]/.test(key))) return null
  const after = words(rest)
  if (after.length > 4 || after.some((word) => ABOUT_A_SECRET.has(word))) return null
  if (bareName.test(last[0]) && words(key.slice(0, last.index)).some((word) => NOT_A_SECRET_BEFORE.has(word))) return null
  return "secret"
}

/**
 * Whether a word of a list of arguments is a `--flag` naming a secret, so the next word is one
 * (`["--password", "…"]`, `--db-password-prod`); not a negation (`--no-password`).
 */
export const isSecretFlag = (word: string): boolean =>
  word.startsWith("--") && !/^--no[_-]/i.test(word) && secretNameKind(word.slice(2)) === "secret"

/** The rules every recorder applies unless told otherwise. */
export const defaultRules: ReadonlyArray<RedactionRule> = [
  privateKey,
  bearerToken,
  basicAuth,
  cookieHeader,
  apiKey,
  urlPassword,
  awsAccessKeyId,
  githubToken,
  slackToken,
  googleApiKey,
  jsonWebToken,
  namedSecret,
  secretFlag
]

/** Redacts secrets from text. */
export interface Redactor {
  readonly rules: ReadonlyArray<RedactionRule>
  readonly redact: (text: string) => string
  /**
   * How the value under this JSON key is a secret (Privacy.ts `sanitize`): `secretNameKind`
   * with the default rules, never without them. Absent: none is.
   */
  readonly secretNameKind?: ((key: string) => "secret" | "header" | null) | undefined
  /** Whether the word after this one in a list is a secret (`isSecretFlag`), likewise. */
  readonly isSecretFlag?: ((word: string) => boolean) | undefined
  /**
   * Whether `redact` keeps text storable (no U+0000, no lone surrogate) that was: true for the
   * default rules alone, whose replacements are ASCII and whose matches never begin or end inside
   * a surrogate pair. Caller text is checked before it is redacted (it is refused, never
   * rewritten); only a redactor without this promise has its output checked again.
   */
  readonly keepsTextStorable?: boolean | undefined
}

// A non-global pattern would replace only the first match: a second secret in
// the same string would be stored. A sticky one (`y`) matches only where the
// last match ended — from the start of the text, so a secret anywhere else was
// stored whole. Every rule matches everywhere: global, never sticky.
const globalRule = (rule: RedactionRule): RedactionRule =>
  rule.pattern.global && !rule.pattern.sticky
    ? rule
    : { ...rule, pattern: new RegExp(rule.pattern.source, `${rule.pattern.flags.replace(/[gy]/g, "")}g`) }

/**
 * Why `rules` cannot be a recorder's redaction rules, past their type, as
 * path/message issues (none when they can): a list of objects, each with a
 * string `name`, a `RegExp` `pattern` and a string `replacement`. A pattern
 * given as a string, or rules given as one, died at start; a rule without a
 * replacement wrote the word "undefined" in place of every secret. What
 * throws while it is read is refused the same way.
 */
export const ruleIssues = (rules: unknown): ReadonlyArray<{ readonly path: string; readonly message: string }> => {
  try {
    if (!Array.isArray(rules)) return [{ path: "", message: "Expected a list of rules ({ name, pattern, replacement })" }]
    return rules.flatMap((rule: unknown, index) => {
      if (typeof rule !== "object" || rule === null) return [{ path: `${index}`, message: "Expected a rule ({ name, pattern, replacement })" }]
      const { name, pattern, replacement } = rule as Record<string, unknown>
      return [
        ...(typeof name === "string" ? [] : [{ path: `${index}.name`, message: "Expected a string" }]),
        ...(pattern instanceof RegExp ? [] : [{ path: `${index}.pattern`, message: "Expected a RegExp (a string is not compiled)" }]),
        ...(typeof replacement === "string" ? [] : [{ path: `${index}.replacement`, message: `Expected a string (what replaces a match, e.g. "${REDACTED}")` }])
      ]
    })
  } catch (thrown) {
    return [{ path: "", message: readThrew(thrown) }]
  }
}

/**
 * Builds a redactor from the default rules plus `rules` (applied after the
 * defaults, in order). `withDefaults: false` uses `rules` alone.
 */
export const make = (options: {
  readonly rules?: ReadonlyArray<RedactionRule> | undefined
  readonly withDefaults?: boolean | undefined
} = {}): Redactor => {
  const rules = [...(options.withDefaults === false ? [] : defaultRules), ...(options.rules ?? [])].map(globalRule)
  return {
    rules,
    redact: (text) => rules.reduce((current, rule) => current.replace(rule.pattern, rule.replacement), text),
    secretNameKind: options.withDefaults === false ? () => null : secretNameKind,
    isSecretFlag: options.withDefaults === false ? () => false : isSecretFlag,
    // A caller's rule may write U+0000 or cut a surrogate pair in two.
    keepsTextStorable: (options.rules ?? []).length === 0
  }
}
