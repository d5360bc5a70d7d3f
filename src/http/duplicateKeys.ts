/**
 * Keys given twice in a JSON body. `JSON.parse` keeps the last of them and
 * drops the others without a word, so `{"inputs": {"prompt": "a", "prompt":
 * "b"}}` would store a job whose submitter cannot tell which value won — and
 * RFC 8259 leaves such a text's meaning open (I-JSON, RFC 7493, forbids it).
 * The API refuses it instead, naming the key.
 *
 * Keys are compared as `JSON.parse` reads them: `"a"` and `"\u0061"` are the
 * same key.
 */

/** Where a key was given twice: the path of its object's parent keys and indices, then the key. */
export interface DuplicateKey {
  readonly path: ReadonlyArray<string | number>
  readonly key: string
}

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

/** The index of the quote that closes the string opening at `start`. */
const closingQuote = (text: string, start: number): number => {
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

/**
 * The first key given twice in one object of `text`, or `undefined`. `text`
 * must already be valid JSON (`JSON.parse` accepted it): this reads its
 * structure only, in one pass, without recursion.
 */
export const firstDuplicateKey = (text: string): DuplicateKey | undefined => {
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
          if (top.keys.has(key)) {
            const path = stack.slice(0, -1).map((frame) => isObject(frame) ? frame.key! : frame.index)
            return { path, key }
          }
          top.keys.add(key)
          top.key = key
        }
        at = end
        break
      }
    }
  }
  return undefined
}
