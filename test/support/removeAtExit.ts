/**
 * Temporary folders removed when the test process exits. One `exit` listener
 * for them all: a worker process runs many test files (vitest.config.ts), and
 * a listener per folder would pile up on `process`.
 */
import * as fs from "node:fs"

const folders = new Set<string>()
let listening = false

/** Removes `dir` (recursively) when the process exits. */
export const removeAtExit = (dir: string): void => {
  folders.add(dir)
  if (listening) return
  listening = true
  process.once("exit", () => {
    for (const folder of folders) fs.rmSync(folder, { recursive: true, force: true })
  })
}
