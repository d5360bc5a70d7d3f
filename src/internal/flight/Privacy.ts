/**
 * What the Flight Recorder does to an event before storing it (R14):
 *
 * - every string, keys and values at any depth, is NFC-normalised, so the same
 *   text is stored (and searched) the same way whatever its input form;
 * - every string value, and every key but the schemas' field names, passes
 *   through the redactor (secrets never stored), and a value the JSON's
 *   structure names a secret (under a secret's key, after a `--flag`) is
 *   replaced whole;
 * - raw content (prompts, responses, terminal output: `RawContentFields`; an
 *   edit's inserted and deleted text: `RawEditOpFields`) is dropped unless
 *   debug mode is on; a dropped prompt or response is replaced by its
 *   `sha256:` hash when the caller gave none, a reference instead of text;
 * - the stored JSON is bounded in size; a larger event is refused, never truncated.
 */
import { createHash } from "node:crypto"
import type { EventType } from "../../domain/EventRecord.js"
import { RawContentFields, RawEditOpFields } from "../../domain/FlightEvent.js"
import type { Json } from "../../domain/Json.js"
import { eventFieldNames } from "./eventFieldNames.js"
import { REDACTED, type Redactor } from "./Redactor.js"

/** Default bound on one event's stored JSON: 64 KiB of UTF-8. */
export const DEFAULT_MAX_EVENT_BYTES = 64 * 1024

/** A JSON object, as events are once encoded. */
export type JsonObject = { readonly [key: string]: Json }

/** One string as it is stored: NFC-normalised, redacted, and normalised again (a replacement may not be NFC). */
export const sanitizeText = (text: string, redactor: Redactor): string => redactor.redact(text.normalize("NFC")).normalize("NFC")

/**
 * NFC-normalises and redacts every key and string value (R14); a -0 becomes 0 (JSON
 * text has no -0: the stored body says 0, so the returned record must too, as
 * domain/Json.ts does for job inputs). A secret in the JSON's structure is redacted
 * too, not only one inside a string (Redactor.secretNameKind, isSecretFlag): the value
 * under a key that names a secret, whatever its type but a boolean or null
 * (`{"password": 123456}`, `{"api_key": {"primary": "…"}}` become `"[REDACTED]"`);
 * the `value` of a name/value pair whose name is one (`{"name": "DB_PASSWORD",
 * "value": "…"}`, as environment lists write it); and the word after a `--flag`
 * naming one in a list (`args: ["--password", "hunter2"]`). The schemas' own field
 * names are never taken for a secret's (eventFieldNames.ts).
 */
export const sanitize = (value: Json, redactor: Redactor, onKeysMerged?: () => void): Json => {
  if (typeof value === "string") return sanitizeText(value, redactor)
  if (typeof value === "number") return value === 0 ? 0 : value
  if (Array.isArray(value)) {
    const list = value as ReadonlyArray<Json>
    return list.map((item, index) =>
      index > 0 && followsSecretFlag(list[index - 1], redactor) && (typeof item === "number" || (typeof item === "string" && !item.startsWith("-")))
        ? REDACTED
        : Array.isArray(item)
        ? sanitizePair(item as ReadonlyArray<Json>, redactor, onKeysMerged)
        : sanitize(item, redactor, onKeysMerged)
    )
  }
  if (typeof value === "object" && value !== null) {
    const object = value as { readonly [key: string]: Json }
    const pairKind = namedPair(object, redactor)
    const out: Record<string, Json> = {}
    for (const [key, item] of Object.entries(object)) {
      const stored = storedKey(key, redactor)
      // Two keys made one (by NFC, or by redacting a secret in them): the first's value would be lost (firstKeyCollision says where).
      if (onKeysMerged !== undefined && Object.hasOwn(out, stored)) onKeysMerged()
      const kind = pairKind !== null && /^value$/i.test(stored)
        ? pairKind
        : eventFieldNames.has(key) ? null : redactor.secretNameKind?.(stored) ?? null
      out[stored] = isSecretValue(item, kind) ? REDACTED : kind === "header" ? headerValues(item, redactor, onKeysMerged) : sanitize(item, redactor, onKeysMerged)
    }
    return out
  }
  return value
}

/**
 * A list inside a list: a pair whose first item names a secret (`[["Authorization", "Basic …"]]`,
 * `[["DB_PASSWORD", "…"]]`, as headers and environments are written as entries) has its second
 * item taken as that name's value; any other list as a list. (A list on its own — a command's
 * `args: ["token", "list"]` — is no pair.)
 */
const sanitizePair = (list: ReadonlyArray<Json>, redactor: Redactor, onKeysMerged?: () => void): Json => {
  const kind = list.length === 2 && typeof list[0] === "string" ? redactor.secretNameKind?.(list[0].normalize("NFC")) ?? null : null
  return kind !== null && isSecretValue(list[1], kind)
    ? [sanitize(list[0]!, redactor, onKeysMerged), REDACTED]
    : kind === "header"
    ? [sanitize(list[0]!, redactor, onKeysMerged), headerValues(list[1]!, redactor, onKeysMerged)]
    : sanitize(list, redactor, onKeysMerged)
}

/**
 * A header's value that is no text: a list of them, as `Set-Cookie` is given (one cookie an item,
 * `{"set-cookie": ["sid=…; Path=/", "theme=dark"]}`), has each text item redacted whole, the list's
 * length kept; anything else is sanitised as any value is.
 */
const headerValues = (item: Json, redactor: Redactor, onKeysMerged?: () => void): Json =>
  Array.isArray(item)
    ? (item as ReadonlyArray<Json>).map((value) => typeof value === "string" ? REDACTED : sanitize(value, redactor, onKeysMerged))
    : sanitize(item, redactor, onKeysMerged)

/**
 * Whether `item`, under a name of `kind`, is replaced whole: a secret's value whatever its type
 * but a boolean or null (they say whether there is one, never what it is); a header's, its text.
 */
const isSecretValue = (item: Json | undefined, kind: "secret" | "header" | null): boolean =>
  kind === "secret" ? item !== undefined && item !== null && typeof item !== "boolean" : kind === "header" && typeof item === "string"

/** How `object`, a name/value pair (`name` or `key` beside `value`, in any case: `Name`/`Value`), names a secret. */
const namedPair = (object: { readonly [key: string]: Json }, redactor: Redactor): "secret" | "header" | null => {
  if (redactor.secretNameKind === undefined) return null
  let name: Json | undefined
  let hasValue = false
  for (const key of Object.keys(object)) {
    if (/^(?:name|key)$/i.test(key)) name = object[key]
    else if (/^value$/i.test(key)) hasValue = true
  }
  return hasValue && typeof name === "string" ? redactor.secretNameKind(name.normalize("NFC")) : null
}

/**
 * A key as stored: NFC-normalised and redacted, as text is (`{"password=hunter2": 1}` keeps no
 * secret in its key) — but the schemas' own field names, which are no caller's text (eventFieldNames.ts).
 */
const storedKey = (key: string, redactor: Redactor): string =>
  key === "" || eventFieldNames.has(key) ? key : sanitizeText(key, redactor)

/** Whether `item` is a `--flag` naming a secret, so the word after it is one. */
const followsSecretFlag = (item: Json | undefined, redactor: Redactor): boolean =>
  typeof item === "string" && redactor.isSecretFlag?.(item) === true

/**
 * The first object in `value` holding two keys that are one key once stored
 * (`storedKey`: NFC-normalised — `"é"` and `"e\u0301"` — and redacted —
 * `"password=a"` and `"password=b"`), as the path of that object, the keys and
 * their stored form, or null. `sanitize` would keep only the last of them: a value lost without a
 * word, so such an event is refused instead. Searched only once `sanitize` has
 * said some keys merged.
 */
export const firstKeyCollision = (
  value: Json,
  redactor: Redactor,
  path = ""
): { readonly path: string; readonly keys: ReadonlyArray<string>; readonly stored: string } | null => {
  if (typeof value !== "object" || value === null) return null
  const entries: ReadonlyArray<readonly [string, Json]> = Array.isArray(value)
    ? value.map((item: Json, index) => [String(index), item] as const)
    : Object.entries(value)
  if (!Array.isArray(value)) {
    const byForm = new Map<string, string>()
    for (const [key] of entries) {
      const form = storedKey(key, redactor)
      const first = byForm.get(form)
      if (first !== undefined) return { path, keys: [first, key], stored: form }
      byForm.set(form, key)
    }
  }
  for (const [key, child] of entries) {
    const found = firstKeyCollision(child, redactor, path === "" ? key : `${path}.${key}`)
    if (found !== null) return found
  }
  return null
}

/** `sha256:` and the hex digest of the NFC form of `text`, as `ContentHash` expects. */
export const contentHash = (text: string): string =>
  `sha256:${createHash("sha256").update(text.normalize("NFC"), "utf8").digest("hex")}`

// Which hash field stands for which raw text field when the text is dropped.
const hashFieldOf: { readonly [field: string]: string } = {
  prompt_text: "prompt_hash",
  response_text: "response_hash"
}

/**
 * Drops the raw content fields of an encoded event unless `debug` is on,
 * filling in the matching hash field if the caller did not (left it out, or
 * gave it as `null`): the dropped text's evidence is its hash.
 */
export const applyRawContentPolicy = (event: JsonObject, type: EventType, debug: boolean): JsonObject => {
  if (type === "editor_edit") return debug ? event : withoutEditText(event)
  const fields = RawContentFields[type]
  if (debug || fields === undefined || !fields.some((field) => field in event)) return event
  const out: Record<string, Json> = { ...event }
  for (const field of fields) {
    const text = out[field]
    delete out[field]
    const hashField = hashFieldOf[field]
    // `null` is "no hash given" as much as absence is (the spec types it `string | null`; a serde writer sends null).
    if (typeof text === "string" && hashField !== undefined && (out[hashField] === undefined || out[hashField] === null)) {
      out[hashField] = contentHash(text)
    }
  }
  return out
}

/**
 * An `editor_edit` event without the text of its ops (`RawEditOpFields`): the
 * event's `before_hash`/`after_hash`/`diff_hash` address the content instead.
 */
const withoutEditText = (event: JsonObject): JsonObject => {
  const ops = event["ops"]
  if (!Array.isArray(ops) || !ops.some((op) => isObject(op) && RawEditOpFields.some((field) => field in op))) return event
  return {
    ...event,
    ops: ops.map((op: Json) => {
      if (!isObject(op)) return op
      const out: Record<string, Json> = { ...op }
      for (const field of RawEditOpFields) delete out[field]
      return out
    })
  }
}

const isObject = (value: Json): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value)

/** Size of a value's JSON text in UTF-8 bytes: what a store writes. */
export const encodedSize = (value: Json): number => Buffer.byteLength(JSON.stringify(value), "utf8")
