/**
 * The web console's static files: plain HTML, CSS and JavaScript in
 * `console/` beside this module (`src/http/console/` in the sources,
 * `dist/http/console/` in the package: the build copies them). Served from
 * memory under a strict Content-Security-Policy: scripts and styles from the
 * server itself only, so even text that slipped into markup could not run.
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { readFile } from "node:fs/promises"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

/** Where the files are. */
export const consoleDirectory: URL = new URL("./console/", import.meta.url)

/** The files served, by the name a URL uses, with their content types. */
const FILES = {
  "index.html": "text/html; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "style.css": "text/css; charset=utf-8"
} as const

/** A file of the console. */
export type ConsoleFile = keyof typeof FILES

/** The console's names, for routing. */
export const consoleFiles = Object.keys(FILES) as ReadonlyArray<ConsoleFile>

const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache"
}

/** A console file missing from the package: a broken build, reported at start-up. */
export class ConsoleAssetMissing extends Schema.TaggedError<ConsoleAssetMissing>()("ConsoleAssetMissing", {
  directory: Schema.String,
  cause: Schema.Defect
}) {
  override get message(): string {
    return `The web console's files are missing from ${this.directory}`
  }
}

/** Reads every console file once and returns a response for each; fails if one is missing. */
export const loadConsole: Effect.Effect<Readonly<Record<ConsoleFile, HttpServerResponse.HttpServerResponse>>, ConsoleAssetMissing> =
  Effect.tryPromise({
    try: async () => {
      const responses: Partial<Record<ConsoleFile, HttpServerResponse.HttpServerResponse>> = {}
      for (const name of consoleFiles) {
        const body = await readFile(new URL(name, consoleDirectory))
        responses[name] = HttpServerResponse.uint8Array(body, { contentType: FILES[name], headers: SECURITY_HEADERS })
      }
      return responses as Record<ConsoleFile, HttpServerResponse.HttpServerResponse>
    },
    catch: (cause) => new ConsoleAssetMissing({ directory: consoleDirectory.pathname, cause })
  })
