/** The package's own version, read from its package.json (src/ and dist/ are both one level below the root). */
import { readFileSync } from "node:fs"

/** `0.1.0`-style version of the running package. */
export const packageVersion: string =
  (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { readonly version: string }).version
