#!/usr/bin/env node
/**
 * `ai-jobs`: the operator CLI. Exit codes: 0 success, 1 operational failure
 * (database unreachable, job missing, query failed), 2 bad input (refused
 * before anything is touched). Expected errors print one line on stderr,
 * never a stack trace.
 */
import { readFileSync } from "node:fs"
import * as Command from "@effect/cli/Command"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import { clipText } from "../domain/Text.js"
import { NotFound } from "../store/StoreErrors.js"
import { helpAsked, logLevelFirst, refuseCommandLine } from "./commandLine.js"
import { changeBegun, changeFailure, changeReported, finishingChange, interruptedAfterChange } from "./change.js"
import { repeatedSignalTaker } from "./repeatedSignal.js"
import { enableSqliteUris } from "./database.js"
import { guardSignals, signalExitCode } from "../util/signalGuard.js"
import { argumentNotUtf8 } from "./rawBytes.js"
import { demoCommand } from "./demo.js"
import { BadInput, describeError, ExitCode } from "./errors.js"
import { eventsCommand } from "./events.js"
import * as Help from "./help.js"
import { joinRepeatedLists } from "./repeatedLists.js"
import { jobsCommand, jobsSubcommands } from "./jobs.js"
import { migrateCommand } from "./migrate.js"
import { pruneCommand } from "./prune.js"
import { recoverCommand } from "./recover.js"
import { retentionCommand } from "./retention.js"
import { colorEnabled, outputWidth } from "./terminal.js"
import { serveCommand } from "./serve.js"

// src/cli/ and dist/cli/ are both two levels below the package root.
const version = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { readonly version: string }).version

const subcommands = [demoCommand, migrateCommand, recoverCommand, jobsCommand, eventsCommand, pruneCommand, retentionCommand, serveCommand] as const

const root = Command.make("ai-jobs").pipe(
  Command.withDescription("Operate a Handshake AI job database: migrate, recover, inspect, act on jobs, prune, serve the API and console."),
  Command.withSubcommands(subcommands)
)

/** The same tree, for help. */
const tree: Help.CommandNode = {
  command: root,
  children: subcommands.map((command) => ({
    command,
    children: command === jobsCommand ? jobsSubcommands.map((leaf) => ({ command: leaf, children: [] })) : []
  }))
}

const cli = Command.run(root, { name: "ai-jobs", version: `v${version}` })

/**
 * Our help instead of @effect/cli's for `--help`/`-h` and for a command
 * group named without a subcommand (`ai-jobs`, `ai-jobs jobs`).
 */
const helpFor = (args: ReadonlyArray<string>): string | undefined => {
  const { node, path } = Help.locate(tree, args)
  const asked = helpAsked(tree, args)
  const bareGroup = node.children.length > 0 && args.length === path.length - 1
  return asked || bareGroup ? Help.render(node, path, { width: outputWidth(), color: colorEnabled() }) : undefined
}

/**
 * A missing table usually means an unmigrated database; say how to fix it. Not when a migration
 * itself failed (`migrate` said to run `migrate`), nor for a missing column (`column "x" of relation
 * "y" does not exist` names a table that is there).
 */
const hint = (message: string) =>
  /no such table|(?<!of )relation "[^"]*" does not exist/i.test(message) && !MIGRATION_FAILED.test(message)
    ? `${message} (is the database migrated? run: ai-jobs migrate)`
    : message

/** A pruned job's miss names the command that still reads its audit trail. */
const prunedHint = (error: unknown): string =>
  error instanceof NotFound && error.pruned === true ? ` — read them: ai-jobs events --job ${error.id}` : ""

/** How `MigrationFailed` begins its message: `PostgreSQL migration 0002_current_schema failed`, `SQLite migrations failed`. */
const MIGRATION_FAILED = /\b(?:PostgreSQL|SQLite) migrations? (?:\d{4}_\w+ )?failed\b/

/** The longest word (a run without spaces: a quoted value, a path) an error line quotes whole. */
const MAX_QUOTED_WORD = 200
/** The longest error line. */
const MAX_ERROR_LINE = 2_000

/**
 * `message` with each over-long word cut short, then the whole line, each
 * saying how long it was: a 100 kB id or date given by mistake was echoed
 * back whole, a screenful of one line (the HTTP API quotes at most 1,000).
 */
const clipped = (message: string): string =>
  clipText(message.replace(new RegExp(`\\S{${MAX_QUOTED_WORD + 1},}`, "g"), (word) => clipText(word, MAX_QUOTED_WORD)), MAX_ERROR_LINE)

/** Prints an expected failure as one line and chooses the exit code. */
const report = (error: unknown): Effect.Effect<number> => {
  // @effect/cli has already printed its usage text for its own validation errors.
  if (ValidationError.isValidationError(error)) return Effect.succeed(ExitCode.badInput)
  if (error instanceof BadInput) return Effect.as(Console.error(`error: ${clipped(error.message)}`), ExitCode.badInput)
  return Effect.as(Console.error(`error: ${clipped(hint(describeError(error)) + prunedHint(error))}`), ExitCode.failure)
}

/** The exit code of the failure whose line was printed: a signal that then ends the run must not have it printed again. */
let failureSaid: number | undefined

/** `printing` (a failure's line and its exit code) whole, its code noted. */
const said = (printing: Effect.Effect<number>): Effect.Effect<number> =>
  Effect.uninterruptible(Effect.tap(printing, (code) => Effect.sync(() => void (failureSaid = code))))

/** A command's failure printed on stderr, with its exit code. */
const answered = <R>(run: Effect.Effect<number, unknown, R>): Effect.Effect<number, never, R> =>
  run.pipe(
    Effect.catchAll((error) => said(report(error))),
    // A defect is a bug: show the cause, still without exiting 0.
    Effect.catchAllDefect((defect) => said(Effect.as(Console.error(`error: unexpected failure: ${Cause.pretty(Cause.die(defect))}`), ExitCode.failure)))
  )

const program = Effect.suspend(() => {
  const args = process.argv.slice(2)
  // Before anything reads a word: Node has already put U+FFFD in place of bytes that are not UTF-8.
  const notUtf8 = argumentNotUtf8(args)
  if (notUtf8 !== undefined) return Effect.fail(new BadInput({ message: notUtf8 }))
  const help = helpFor(args)
  if (help !== undefined) return Console.log(help)
  const joined = joinRepeatedLists(args)
  const missing = refuseCommandLine(tree, args, joined)
  if (missing !== undefined) return Effect.fail(missing)
  // @effect/cli takes `--log-level` only before a command's options: moved there, it is taken anywhere among them.
  return cli([...process.argv.slice(0, 2), ...logLevelFirst(tree, joined)])
}).pipe(
  Effect.as(ExitCode.ok as number),
  answered,
  Effect.provide(NodeContext.layer),
  // The library's log lines (a recovery that stalled runs, a failed heartbeat) go to stderr, so
  // stdout keeps only what a command prints — a table, or JSON for a pipe.
  Effect.provide(Logger.replace(Logger.defaultLogger, Logger.prettyLogger({ stderr: true })))
)

enableSqliteUris()

// runMain interrupts the program on SIGINT and on SIGTERM alike: which one came decides the exit
// code (128 + the signal's number), as a shell reports a process the signal ended — 130 for an
// operator's Ctrl-C, 143 for a service manager's stop.
//
// runMain removes its own listeners on the first signal; the guard's stay (util/signalGuard.ts):
// a command that takes repeated signals (serve: they end its grace) gets them; otherwise, once a
// change has begun, a further signal only says (once) that it is being finished; before, it ends
// the process as the signal would have.
let finishingSaid = false
const signals = guardSignals((signal) => {
  const taker = repeatedSignalTaker()
  if (taker !== undefined) return taker()
  if (!changeBegun()) process.exit(signalExitCode(signal))
  if (!finishingSaid) process.stderr.write(`${finishingChange}\n`)
  finishingSaid = true
})
const stoppedBy = (): 130 | 143 => {
  const first = signals.first()
  return first === undefined ? 130 : signalExitCode(first)
}

// A reader that closed its end of the pipe (`ai-jobs events | head -1`) is done, not a failure of
// ours: stop quietly with the code a process SIGPIPE ends gets (128 + 13), as C tools do — Node
// ignores SIGPIPE, so the write failed with EPIPE and Node printed a stack trace for it.
const CLOSED_PIPE = 141
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error
    process.exit(CLOSED_PIPE)
  })
}

/**
 * Exits once what was written to stdout and stderr has been handed over:
 * `process.exit` drops writes still queued for a pipe whose reader is slow,
 * which cut a long listing or message off at 64 KiB. A write's callback runs
 * after every earlier write to the stream.
 */
const exitAfterOutput = (code: number, onExit: (code: number) => void): void => {
  let waiting = 2
  let closed = false
  const done = (error?: Error | null) => {
    // The reader went away meanwhile: the same exit as when a write meets it first.
    if ((error as NodeJS.ErrnoException | null | undefined)?.code === "EPIPE") closed = true
    if (--waiting === 0) onExit(closed ? CLOSED_PIPE : code)
  }
  process.stdout.write("", done)
  process.stderr.write("", done)
}

/**
 * The exit code of a run a signal interrupted. After a change had begun, the command still finished
 * it and printed its report (change.ts): it exits 0, as it did what was asked, and says the signal
 * stopped nothing. A change that failed fails the command as without the signal: the pending
 * interrupt dropped the failure before `answered` could print it, so it is printed here (its error
 * line, exit 1). Stopped before it changed anything, the command exits 128 + the signal's number.
 */
const interruptedExit = (): number => {
  if (changeReported()) {
    process.stderr.write(`${interruptedAfterChange}\n`)
    return ExitCode.ok
  }
  const failure = changeFailure()
  if (failure === undefined) return stoppedBy()
  return failureSaid ?? Effect.runSync(answered(Effect.failCause(failure)))
}

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  disablePrettyLogger: true,
  teardown: (exit, onExit) => {
    const code = Exit.isSuccess(exit) ? exit.value : Cause.isInterruptedOnly(exit.cause) ? interruptedExit() : ExitCode.failure
    exitAfterOutput(typeof code === "number" ? code : ExitCode.failure, onExit)
  }
})
