/**
 * What the terminal allows: how wide output may be, and whether it may carry
 * ANSI styles. Decided when output is made, from the stream it goes to.
 */

/** The width of output that goes to a pipe or file, where no terminal says otherwise. */
export const DEFAULT_WIDTH = 80

/** Narrower than this, tables and help stop being readable; lines are laid out for this width. */
const MIN_WIDTH = 40

type Env = Readonly<Record<string, string | undefined>>

interface Stream {
  readonly isTTY?: boolean
  readonly columns?: number
}

/**
 * The columns output may use: `COLUMNS` when set (as many tools honour it),
 * else the terminal's width, else 80 for a pipe or file.
 */
export const outputWidth = (stream: Stream = process.stdout, env: Env = process.env): number => {
  const fromEnv = Number(env["COLUMNS"])
  const columns = Number.isSafeInteger(fromEnv) && fromEnv > 0
    ? fromEnv
    : stream.isTTY === true && typeof stream.columns === "number" && stream.columns > 0
    ? stream.columns
    : DEFAULT_WIDTH
  return Math.max(MIN_WIDTH, columns)
}

/**
 * Whether ANSI styles may be written: only to a terminal, and not when
 * `NO_COLOR` is set (no-color.org) or `TERM` is `dumb`.
 */
export const colorEnabled = (stream: Stream = process.stdout, env: Env = process.env): boolean =>
  stream.isTTY === true && (env["NO_COLOR"] ?? "") === "" && env["TERM"] !== "dumb"
