/**
 * `ai-jobs serve`: the HTTP API, its OpenAPI document and the web console,
 * over the database the other commands use.
 *
 * Loopback only by default. Every request except `/health` needs the bearer
 * token (`--token` or `AI_JOBS_TOKEN`); on loopback without one, a random
 * token is made and printed in the console link. A non-loopback host without
 * a configured token is refused: nobody could be sure who reads the output.
 *
 * This module is the command and its options only: the HTTP stack
 * (serveApp.ts) is imported when `serve` runs, so every other command starts
 * without loading it (`ai-jobs --version` 1.54 → 1.33 s from dist/, medians
 * of 15 interleaved runs).
 */
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import { options } from "./serveOptions.js"

/** Serves until interrupted (Ctrl-C). */
export const serveCommand = Command.make(
  "serve",
  options,
  (parsed) => Effect.flatMap(Effect.promise(() => import("./serveApp.js")), (app) => app.serve(parsed))
).pipe(Command.withDescription(
  "Serve the HTTP API, its OpenAPI document and the web console (loopback only unless a token is configured)."
))
