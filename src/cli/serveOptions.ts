/**
 * `ai-jobs serve`'s options, where it listens by default and what counts as
 * this machine only: shared by the command (serve.ts) and what it runs
 * (serveApp.ts), which import this module, not each other.
 */
import type * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Duration from "effect/Duration"
import { isIPv4 } from "node:net"
import { MIN_TOKEN_LENGTH } from "../http/tokenRules.js"
import { databaseOption } from "./database.js"
import { DEFAULT_SHUTDOWN_GRACE } from "./serveStop.js"

/** Where `serve` listens unless told otherwise. */
export const DEFAULT_HOST = "127.0.0.1"
export const DEFAULT_PORT = 8787

/** Whether `host` only ever reaches this machine. */
export const isLoopback = (host: string): boolean => {
  const bare = host.replace(/^\[(.*)\]$/, "$1").toLowerCase()
  if (bare === "localhost" || bare === "::1") return true
  const v4 = bare.replace(/^::ffff:/, "")
  return isIPv4(v4) && v4.startsWith("127.")
}

/** The variable `--shutdown-grace` falls back to. */
export const SHUTDOWN_GRACE_VARIABLE = "AI_JOBS_SHUTDOWN_GRACE"

/** `serve`'s options. */
export const options = {
  database: databaseOption,
  host: Options.text("host").pipe(
    Options.withPseudoName("address"),
    Options.withDescription(`Address to listen on (default ${DEFAULT_HOST}; anything but loopback needs a token)`),
    Options.withDefault(DEFAULT_HOST)
  ),
  port: Options.text("port").pipe(
    Options.withPseudoName("n"),
    Options.withDescription(`Port to listen on (default ${DEFAULT_PORT}; 0 picks a free one)`),
    Options.optional
  ),
  token: Options.text("token").pipe(
    Options.withPseudoName("secret"),
    Options.withDescription(
      `Bearer token every request except /health must present (at least ${MIN_TOKEN_LENGTH} characters). Falls back to AI_JOBS_TOKEN; on loopback a random one is made and printed.`
    ),
    Options.optional
  ),
  shutdownGrace: Options.text("shutdown-grace").pipe(
    Options.withPseudoName("duration"),
    Options.withDescription(
      `On a stop (Ctrl-C, SIGTERM), how long requests in flight may take to finish before they are cut (default ${Duration.format(DEFAULT_SHUTDOWN_GRACE)}, e.g. 500ms, 5s, 1m). Falls back to ${SHUTDOWN_GRACE_VARIABLE}.`
    ),
    Options.optional
  )
}

/** What `serve` runs with, parsed. */
export type ServeOptions = Command.Command.ParseConfig<typeof options>
