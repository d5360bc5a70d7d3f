/**
 * The console's browser tests' common setup: a SQLite file seeded by the
 * test, `ai-jobs serve` on it (a real subprocess), and a headless Chromium
 * page (`launchConsoleBrowser`); `close` ends the browser and the server.
 */
import * as path from "node:path"
import { tempDir } from "../cli/cli.js"
import { type ConsoleBrowser, type ConsoleBrowserOptions, launchConsoleBrowser } from "./consoleBrowser.js"
import { type Served, startServe } from "./serveProcess.js"

/** A served, seeded database and a browser on it: what the seed gave, and `close`. */
export interface ServedConsole<A> extends ConsoleBrowser {
  readonly served: Served
  readonly seeded: A
  readonly close: () => Promise<void>
}

/** What the browser is given: `prepare` runs on its context before the page exists (`countApiRequests`). */
export interface ServedConsoleOptions extends ConsoleBrowserOptions {
  readonly prepare?: Parameters<typeof launchConsoleBrowser>[0]
}

/**
 * Seeds `<a temp dir named name>/jobs.db` with `seed`, serves it with the
 * token `token` and opens a browser; a browser that fails to start stops
 * the server before the error is thrown, so nothing is left running.
 */
export const serveConsole = async <A>(
  name: string,
  token: string,
  seed: (filename: string) => Promise<A>,
  options: ServedConsoleOptions = {}
): Promise<ServedConsole<A>> => {
  const filename = path.join(tempDir(name), "jobs.db")
  const seeded = await seed(filename)
  const served = await startServe(["--database", filename], { AI_JOBS_TOKEN: token })
  const { prepare, ...browserOptions } = options
  const browser = await launchConsoleBrowser(prepare, browserOptions).catch(async (error: unknown) => {
    await served.stop()
    throw error
  })
  return {
    ...browser,
    served,
    seeded,
    close: async () => {
      await browser.context.close()
      await served.stop()
    }
  }
}
