/**
 * What the Flight Recorder does to an event before storing it (R14):
 *
 * - every string, keys and values at any depth, is NFC-normalised, so the same
 *   text is stored (and searched) the same way whatever its input form;
 * - every string value passes through the redactor (secrets never stored);
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
import type { Redactor } from "./Redactor.js"

/** Default bound on one event's stored JSON: 64 KiB of UTF-8. */
export const DEFAULT_MAX_EVENT_BYTES = 64 * 1024

/** A JSON object, as events are once encoded. */
export type JsonObject = { readonly [key: string]: Json }

/** One string as it is stored: NFC-normalised, redacted, and normalised again (a replacement may not be NFC). */
export const sanitizeText = (text: string, redactor: Redactor): string => redactor.redact(text.normalize("NFC")).normalize("NFC")

/**
 * NFC-normalises every key and string value, and redacts every string value;
 * a -0 becomes 0 (JSON text has no -0: the stored body says 0, so the
 * returned record must too, as domain/Json.ts does for job inputs).
 */
export const sanitize = (value: Json, redactor: Redactor, onKeysMerged?: () => void): Json => {
  if (typeof value === "string") return sanitizeText(value, redactor)
  if (typeof value === "number") return value === 0 ? 0 : value
  if (Array.isArray(value)) return value.map((item: Json) => sanitize(item, redactor, onKeysMerged))
  if (typeof value === "object" && value !== null) {
    const out: Record<string, Json> = {}
    for (const [key, item] of Object.entries(value)) {
      const normalised = key.normalize("NFC")
      // Two keys NFC makes one: the first's value would be lost (firstKeyCollision says where).
      if (onKeysMerged !== undefined && Object.hasOwn(out, normalised)) onKeysMerged()
      out[normalised] = sanitize(item, redactor, onKeysMerged)
    }
    return out
  }
  return value
}

/**
 * The first object in `value` holding two keys that are one key once
 * NFC-normalised (`"é"` and `"e\u0301"`), as the path of that object and the
 * keys, or null. `sanitize` would keep only the last of them: a value lost
 * without a word, so such an event is refused instead. Searched only once
 * `sanitize` has said some keys merged.
 */
export const firstKeyCollision = (
  value: Json,
  path = ""
): { readonly path: string; readonly keys: ReadonlyArray<string> } | null => {
  if (typeof value !== "object" || value === null) return null
  const entries: ReadonlyArray<readonly [string, Json]> = Array.isArray(value)
    ? value.map((item: Json, index) => [String(index), item] as const)
    : Object.entries(value)
  if (!Array.isArray(value)) {
    const byForm = new Map<string, string>()
    for (const [key] of entries) {
      const form = key.normalize("NFC")
      const first = byForm.get(form)
      if (first !== undefined) return { path, keys: [first, key] }
      byForm.set(form, key)
    }
  }
  for (const [key, child] of entries) {
    const found = firstKeyCollision(child, path === "" ? key : `${path}.${key}`)
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
