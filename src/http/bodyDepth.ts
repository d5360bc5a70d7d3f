/**
 * A request body's nesting, judged on its text before `JSON.parse` builds
 * it. Parsing a body of 500,000 nested brackets took a second or two, only
 * for the walk after it to refuse it at level 129 (found by an outside
 * attacker's probe): the text is read up to where it first opens an array or
 * object past the bound, and no further.
 */
import { closingQuote } from "./silentChanges.js"

/**
 * The start of `text` up to where it first opens an array or object nested
 * more than `max` levels deep (the levels counted as `nestedDeeperThan`
 * counts them), closed there — `[[…[[]]…]]` — or undefined when it never
 * does. Brackets inside strings are not nesting. `text` may not be JSON: the
 * closed start parses exactly when the text parses as far as that bracket,
 * where `JSON.parse(text)` fails at the same place otherwise.
 */
export const closedStartPastDepth = (text: string, max: number): string | undefined => {
  const closers: Array<string> = []
  for (let at = 0; at < text.length; at++) {
    const code = text.charCodeAt(at)
    if (code === 34) { // "
      at = closingQuote(text, at)
    } else if (code === 91 || code === 123) { // [ {
      closers.push(code === 91 ? "]" : "}")
      if (closers.length > max) return text.slice(0, at + 1) + closers.reverse().join("")
    } else if (code === 93 || code === 125) { // ] }
      closers.pop()
    }
  }
  return undefined
}
