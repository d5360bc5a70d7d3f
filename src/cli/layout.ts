/**
 * Fitting text to the terminal's width: prose wrapped at word boundaries, and
 * tables that leave out their least useful columns, cut their free-text
 * column, or move it under the row, rather than run off the edge.
 */
import { outputWidth } from "./terminal.js"

/**
 * Characters a terminal acts on instead of showing: C0 controls but the line
 * feed and tab (ESC starts sequences that recolour, retitle, rewrite the
 * clipboard; CR and BS overwrite what was printed), DEL, C1 controls, and the
 * bidirectional overrides and isolates that reorder what follows them.
 */
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g

/**
 * `text` with every character a terminal would act on written as its `\uXXXX`
 * escape, so stored text (a reason, an error message, a node id: whatever a
 * job's submitter or program wrote) is shown as text and never drives the
 * operator's terminal. Applied by `wrap` and `table`, through which every
 * table and detail line is printed.
 */
export const printable = (text: string): string =>
  text.replace(UNPRINTABLE, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`)

/** `text` cut to `max` characters, the last one `…` when anything was cut. */
export const cut = (text: string, max: number): string =>
  text.length > max ? `${text.slice(0, Math.max(0, max - 1))}…` : text

/**
 * Wraps each line of `text` at word boundaries so no line is wider than
 * `width`: the first line of each paragraph starts with `indent`, the lines it
 * continues on with `hang` (default: `indent`). Spaces within a line are kept
 * (aligned words stay aligned); a word too long for a line is broken, except
 * an id (a UUID, with the punctuation after it), which overflows its line
 * whole: a terminal folds it where it must, and it still copies as one id.
 * The text is made `printable` first.
 */
/** A word that is an id: never broken across lines. */
const WHOLE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}[,.;:)]*$/i

export const wrap = (text: string, width: number, options: { readonly indent?: string; readonly hang?: string } = {}): string => {
  const indent = options.indent ?? ""
  const hang = options.hang ?? indent
  const out: Array<string> = []
  for (const paragraph of printable(text).split("\n")) {
    let line = indent
    let empty = true
    let continuing = false
    const flush = () => {
      out.push(line.trimEnd())
      line = hang
      empty = true
      continuing = true
    }
    // Each word with the spaces before it; a word that starts a new line drops them.
    for (const [, spaces = "", found = ""] of paragraph.trimEnd().matchAll(/( *)([^ ]+)/g)) {
      let word = found
      while (word !== "") {
        const lead = empty && continuing ? "" : spaces
        const room = width - line.length - lead.length
        if (word.length <= room) {
          line += lead + word
          empty = false
          word = ""
        } else if (!empty) {
          flush()
        } else if (WHOLE_ID.test(word)) {
          line += lead + word
          empty = false
          word = ""
        } else {
          // Longer than a whole line: break it where the line ends.
          const take = Math.max(1, room)
          line += lead + word.slice(0, take)
          word = word.slice(take)
          flush()
        }
      }
    }
    if (!empty || paragraph.trim() === "") flush()
  }
  return out.join("\n")
}

/** A table column. */
export interface Column {
  readonly header: string
  /** The widest a cell may grow before it is cut with `…` (default 80). */
  readonly max?: number
  /** Left out when the table is too wide: the lowest number goes first. */
  readonly optional?: number
  /**
   * For the last columns only: when the width leaves too little room, this
   * column moves to an indented line under its row (with any after it).
   * Inline, it may be cut down to `min` characters (default: never cut).
   */
  readonly below?: { readonly min?: number }
}

const GAP = "  "
const BELOW = "    "

/**
 * Rows aligned under their headers, no line wider than `width` (by default
 * the terminal's). Cells are single-line and `printable`. When the row is too
 * wide, optional columns are left out (lowest first) until the other columns
 * fit; then the `below` columns stay inline while they fit, and the rest go
 * under the row, indented and wrapped (`-` and empty cells there print
 * nothing). A row still too wide is cut.
 */
export const table = (
  columns: ReadonlyArray<Column>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  width: number = outputWidth()
): string => {
  const cells = rows.map((row) => columns.map((column, i) => cut(printable((row[i] ?? "").replace(/\s+/g, " ").trim()), column.max ?? 80)))
  const widths = columns.map((column, i) => Math.max(column.header.length, ...cells.map((row) => row[i]?.length ?? 0)))
  const span = (indices: ReadonlyArray<number>) =>
    indices.reduce((sum, i) => sum + (widths[i] ?? 0), 0) + GAP.length * Math.max(0, indices.length - 1)

  const indices = columns.map((_, i) => i)
  const movable = indices.filter((i) => columns[i]?.below !== undefined)
  let shown = indices.filter((i) => columns[i]?.below === undefined)
  // Leave out optional columns, least useful first, until the others fit.
  const optional = shown.filter((i) => columns[i]?.optional !== undefined)
    .sort((a, b) => (columns[a]?.optional ?? 0) - (columns[b]?.optional ?? 0))
  for (const i of optional) {
    if (span(shown) <= width) break
    shown = shown.filter((j) => j !== i)
  }
  // Keep `below` columns inline, in order, while each fits (cut to no less than its min).
  const cutTo = new Map<number, number>()
  const under: Array<number> = []
  for (const i of movable) {
    const room = width - span(shown) - GAP.length
    const natural = widths[i] ?? 0
    const min = Math.min(natural, columns[i]?.below?.min ?? natural)
    if (under.length === 0 && room >= min) {
      shown = [...shown, i]
      if (room < natural) {
        cutTo.set(i, room)
        widths[i] = room
      }
    } else {
      under.push(i)
    }
  }

  const line = (row: ReadonlyArray<string>) =>
    cut(
      shown.map((i, k) => {
        const cell = cut(row[i] ?? "", cutTo.get(i) ?? Number.MAX_SAFE_INTEGER)
        return k === shown.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)
      }).join(GAP).trimEnd(),
      width
    )
  const below = (row: ReadonlyArray<string>) => {
    const text = under.map((i) => row[i] ?? "").filter((cell) => cell !== "" && cell !== "-").join(GAP)
    return text === "" ? [] : wrap(text, width, { indent: BELOW }).split("\n")
  }
  const header = columns.map((column) => column.header)
  return [line(header), ...below(header), ...cells.flatMap((row) => [line(row), ...below(row)])].join("\n")
}
