/**
 * What `JSON.parse` would change in a body without a word, so the API can
 * refuse it instead of storing something the client did not send:
 *
 * - a key given twice in one object: the last is kept, the others dropped,
 *   so `{"reason": "a", "reason": "b"}` keeps `"b"` (RFC 8259 leaves such a
 *   text's meaning open; I-JSON, RFC 7493, forbids it). Keys are compared as
 *   `JSON.parse` reads them: `"a"` and `"\u0061"` are the same key.
 * - a number a double cannot hold: `12345678901234567890` is read as
 *   `12345678901234567000`, `1e-400` as `0`, `1e400` as `Infinity`,
 *   `3.14159265358979323846` as `3.141592653589793` (see `keepsNumber`).
 */
import type { DecodeIssue } from "../domain/Errors.js"
import { clipIssueText } from "../domain/issueBounds.js"

/** A change `JSON.parse` would make: where (keys and indices from the top), and what. */
export type SilentChange =
  | { readonly _tag: "KeyTwice"; readonly path: ReadonlyArray<string | number>; readonly key: string }
  | { readonly _tag: "InexactNumber"; readonly path: ReadonlyArray<string | number>; readonly text: string; readonly read: number }

/** An object being read: the keys seen so far and the one whose value is being read. */
interface ObjectFrame {
  readonly keys: Set<string>
  key: string | undefined
  expectingKey: boolean
}

/** An array being read: the index of the element being read. */
interface ArrayFrame {
  index: number
}

type Frame = ObjectFrame | ArrayFrame

const isObject = (frame: Frame | undefined): frame is ObjectFrame => frame !== undefined && "keys" in frame

/** Where each frame is: an object's current key, an array's current index. */
const pathOf = (frames: ReadonlyArray<Frame>): Array<string | number> => frames.map((frame) => isObject(frame) ? frame.key! : frame.index)

/** The index of the quote that closes the string opening at `start`. */
export const closingQuote = (text: string, start: number): number => {
  let at = start + 1
  for (;;) {
    const quote = text.indexOf("\"", at)
    if (quote === -1) return text.length
    // The quote is escaped when an odd number of backslashes stands before it.
    let backslashes = 0
    while (text.charCodeAt(quote - 1 - backslashes) === 92) backslashes++
    if (backslashes % 2 === 0) return quote
    at = quote + 1
  }
}

/** Whether `code` can be part of a JSON number: digits, sign, point, exponent. */
const inNumber = (code: number): boolean =>
  (code >= 48 && code <= 57) || code === 45 || code === 43 || code === 46 || code === 101 || code === 69

/** A decimal number in one form per value: its significant digits and exponent (`"15e2"` for 1500, `"0"` for any zero). */
const decimalForm = (text: string): string => {
  const match = /^(-?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text)
  if (match === null) return text
  const [, sign, whole = "", fraction = "", exponent = "0"] = match
  const all = whole + fraction
  const first = all.search(/[^0]/)
  if (first === -1) return "0"
  const significant = all.slice(first).replace(/0+$/, "")
  const trailing = all.length - first - significant.length
  return `${sign}${significant}e${Number(exponent) - fraction.length + trailing}`
}

/**
 * Whether `JSON.parse` keeps the number `text`. A whole number (no fraction,
 * no exponent) is kept only when JSON writes the double it reads back as
 * written: an int64 id past 2^53 would come back as another number. A text
 * with a fraction or an exponent is a way of writing a double, and is kept
 * when JS writes that double so, or when it is the double rounded to the
 * text's own significant digits, either way at a tie — what C's `%.17g` or
 * .NET's `"R"` write (`0.10000000000000001` is the double `0.1`, and so is
 * `0.1000000000000000055511151231257827`) — but not with digits a double
 * does not have (`3.14159265358979323846`, `9007199254740993.0`). Nothing
 * but zero may read as zero.
 */
const keepsNumber = (text: string, read: number): boolean => {
  if (!Number.isFinite(read)) return false
  const form = decimalForm(text)
  if (form === "0") return true
  if (read === 0) return false
  // What JS writes: the shortest decimal that reads back as the double, which at a power of two is not
  // always its nearest decimal of that many digits (2^89 is written 6.189700196426902e+26, nearer …901).
  const written = decimalForm(String(read)) === form
  if (written || !/[.eE]/.test(text)) return written
  const digits = form.replace(/^-/, "").indexOf("e")
  if (digits > 100) return false
  // toPrecision breaks a tie upwards; the other neighbour is as near (JS writes 1562526424093931.25 as …931.2).
  return decimalForm(read.toPrecision(digits)) === form || roundsTo(form, read)
}

/**
 * Whether the decimal `form` (`"-15e2"`) is within half a unit of its last
 * digit of the double `read`: one of its nearest decimals of that many
 * digits. Exact, in integers: |d − x| ≤ u/2 with d = S·10^q, x = M·2^E and
 * u = 10^q, all scaled by 10^max(0,−q)·2^max(0,−E).
 */
const roundsTo = (form: string, read: number): boolean => {
  const e = form.indexOf("e")
  const significand = BigInt(form.slice(form.startsWith("-") ? 1 : 0, e))
  const q = Number(form.slice(e + 1))
  const [mantissa, binaryExponent] = binaryParts(Math.abs(read))
  const tens = 10n ** BigInt(Math.max(0, q))
  const scaleTen = 10n ** BigInt(Math.max(0, -q))
  const scaleTwo = 2n ** BigInt(Math.max(0, -binaryExponent))
  const decimal = significand * tens * scaleTwo
  const double = mantissa * 2n ** BigInt(Math.max(0, binaryExponent)) * scaleTen
  const unit = tens * scaleTwo
  const gap = decimal > double ? decimal - double : double - decimal
  return 2n * gap <= unit
}

/** A finite positive double as M·2^E with M and E integers (IEEE 754 binary64 fields). */
const binaryParts = (value: number): readonly [bigint, number] => {
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, value)
  const bits = view.getBigUint64(0)
  const field = Number((bits >> 52n) & 0x7ffn)
  const fraction = bits & ((1n << 52n) - 1n)
  return field === 0 ? [fraction, -1074] : [fraction | (1n << 52n), field - 1075]
}

/**
 * The first silent change in `text`, or `undefined`. `text` must already be
 * valid JSON (`JSON.parse` accepted it): this reads its structure only, in
 * one pass, without recursion.
 */
export const firstSilentChange = (text: string): SilentChange | undefined => {
  const stack: Array<Frame> = []
  for (let at = 0; at < text.length; at++) {
    const code = text.charCodeAt(at)
    const top = stack[stack.length - 1]
    switch (code) {
      case 123: // {
        stack.push({ keys: new Set(), key: undefined, expectingKey: true })
        break
      case 91: // [
        stack.push({ index: 0 })
        break
      case 125: // }
      case 93: // ]
        stack.pop()
        break
      case 44: // ,
        if (isObject(top)) top.expectingKey = true
        else if (top !== undefined) top.index++
        break
      case 58: // :
        if (isObject(top)) top.expectingKey = false
        break
      case 34: { // "
        const end = closingQuote(text, at)
        if (isObject(top) && top.expectingKey) {
          const raw = text.slice(at + 1, end)
          const key = raw.includes("\\") ? JSON.parse(`"${raw}"`) as string : raw
          if (top.keys.has(key)) return { _tag: "KeyTwice", path: pathOf(stack.slice(0, -1)), key }
          top.keys.add(key)
          top.key = key
        }
        at = end
        break
      }
      default: {
        if (code !== 45 && (code < 48 || code > 57)) break
        let end = at + 1
        let digits = code === 45 ? 0 : 1
        let exponent = false
        for (; end < text.length; end++) {
          const next = text.charCodeAt(end)
          if (next >= 48 && next <= 57) digits++
          else if (next === 101 || next === 69) exponent = true
          else if (!inNumber(next)) break
        }
        // Up to 15 significant digits without an exponent, a double holds the decimal and writes it back
        // as written (DBL_DIG): nearly every number, checked with nothing more.
        if (exponent || digits > 15) {
          const number = text.slice(at, end)
          const read = Number(number)
          if (!keepsNumber(number, read)) return { _tag: "InexactNumber", path: pathOf(stack), text: number, read }
        }
        at = end - 1
      }
    }
  }
  return undefined
}

/** The decode issue that names `change` to the client: its path and what it would have become. */
export const silentChangeIssue = (change: SilentChange): DecodeIssue =>
  change._tag === "KeyTwice"
    ? {
      path: clipIssueText([...change.path, change.key].join(".")),
      message: clipIssueText(`Key ${JSON.stringify(change.key)} is given twice in one object (only the last would be kept); give it once`)
    }
    : {
      path: clipIssueText(change.path.join(".")),
      message: clipIssueText(
        `The number ${change.text} cannot be kept exactly (it would be read as ${String(change.read)}); send it as a string (a JSON number here is a double: about 17 significant digits, up to ±1.8e308)`
      )
    }
