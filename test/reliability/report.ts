/**
 * Figures for RELIABILITY.md: each campaign part prints one line with its
 * seed and counts, and appends it as JSON to $HSK_RELIABILITY_REPORT when set.
 */
import * as fs from "node:fs"

/** Prints (and optionally records) one part's figures. */
export const report = (part: string, figures: Record<string, unknown>): void => {
  const line = JSON.stringify({ part, ...figures })
  console.log(`[reliability] ${line}`)
  const file = process.env["HSK_RELIABILITY_REPORT"]
  if (file !== undefined && file !== "") fs.appendFileSync(file, `${line}\n`)
}
