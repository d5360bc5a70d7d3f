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
import * as LogLevel from "effect/LogLevel"
import { clipText } from "../domain/Text.js"
import { changeBegun, changeReported, finishingChange, interruptedAfterChange } from "./change.js"
import { enableSqliteUris } from "./database.js"
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
  const asked = args.includes("--help") || args.includes("-h")
  const bareGroup = node.children.length > 0 && args.length === path.length - 1
  return asked || bareGroup ? Help.render(node, path, { width: outputWidth(), color: colorEnabled() }) : undefined
}

/** An option that takes a value given none (`--database` last): @effect/cli would call it an unknown argument. */
const missingValue = (args: ReadonlyArray<string>): BadInput | undefined => {
  const { node } = Help.locate(tree, args)
  const options = Help.valueOptions(node)
  const names = Help.optionNames(node)
  // As @effect/cli reads a command line, the first `--` ends the options, even where an option's
  // value was due (`--reason --`): it is never a value, and every word after it is an argument.
  const end = args.indexOf("--")
  const beforeEnd = end === -1 ? args : args.slice(0, end)
  for (const [i, arg] of beforeEnd.entries()) {
    // `--limit=` gives the option an empty value: @effect/cli called the whole word an unknown argument.
    const [name, ...value] = arg.split("=")
    if (value.length > 0 && value.join("=") === "" && options.has(name!)) {
      const description = Help.optionDescription(node, name!)
      return new BadInput({ message: `${name!} needs a value (${options.get(name!)!})${description === "" ? "" : `: ${description}`}` })
    }
    const pseudo = options.get(arg)
    const next = beforeEnd[i + 1]
    // The next word is the value unless it is one of the command's options (`--reason --json`
    // forgot the reason) or there is none before `--`: a reason may itself begin with dashes
    // (`--reason "--force was used"`), and a reason that is `--` is written `--reason=--`.
    if (pseudo !== undefined && (next === undefined || names.has(next.split("=")[0]!))) {
      const description = Help.optionDescription(node, arg)
      return new BadInput({
        message: `${arg} needs a value (${pseudo})${description === "" ? "" : `: ${description}`}` +
          (next === undefined && end !== -1 ? ` (a -- ends the options; for the value --, write ${arg}=--)` : "")
      })
    }
  }
  return undefined
}

/**
 * An option given twice (`--database a --database b`, `--json --json`):
 * @effect/cli takes each once and calls the second an "unknown argument",
 * which it is not. Read after the list filters are joined (they may repeat);
 * an option's value is skipped, so a reason that looks like an option stays one.
 */
const repeatedOption = (args: ReadonlyArray<string>): BadInput | undefined => {
  const { node } = Help.locate(tree, args)
  const names = Help.optionNames(node)
  const seen = new Set<string>()
  for (const word of optionWords(args, Help.valueOptions(node))) {
    const name = word.split("=")[0]!
    if (!names.has(name)) continue
    if (seen.has(name)) return new BadInput({ message: `${name} is given more than once; give it once` })
    seen.add(name)
  }
  return undefined
}

/**
 * The words of a command line before `--`, without the values of the options `takesValue` names
 * (`--reason "--force"`) and of @effect/cli's `--log-level` (`jobs list --log-level warning`, which
 * it takes after a command too, was called an unexpected argument "warning").
 */
const optionWords = (args: ReadonlyArray<string>, takesValue: ReadonlyMap<string, string>): ReadonlyArray<string> => {
  const words: Array<string> = []
  const end = args.indexOf("--")
  for (let i = 0; i < (end === -1 ? args.length : end); i++) {
    const arg = args[i]!
    words.push(arg)
    if (takesValue.has(arg) || arg === LOG_LEVEL) i++
  }
  return words
}

const LOG_LEVEL = "--log-level"
/** The levels @effect/cli's `--log-level` takes, as it spells them (lower case only). */
const LOG_LEVELS: ReadonlyArray<string> = LogLevel.allLevels.map((level) => level._tag.toLowerCase())

/**
 * A `--log-level` given no level or one @effect/cli does not take (`--log-level bogus`,
 * `--log-level=Info`): one line naming the flag and its levels (exit 2), where @effect/cli printed
 * "Invalid subcommand for ai-jobs - use one of …" (before the command) or "Received unknown
 * argument: '--log-level'" (after it), and a blank line. A command's option value that reads
 * `--log-level` (`--reason --log-level`) is that value.
 */
const badLogLevel = (args: ReadonlyArray<string>): BadInput | undefined => {
  const { node } = Help.locate(tree, args)
  const takesValue = Help.valueOptions(node)
  const end = args.indexOf("--")
  const words = end === -1 ? args : args.slice(0, end)
  for (let i = 0; i < words.length; i++) {
    const arg = words[i]!
    if (takesValue.has(arg)) {
      i++
      continue
    }
    const given = arg === LOG_LEVEL ? words[i + 1] : arg.startsWith(`${LOG_LEVEL}=`) ? arg.slice(LOG_LEVEL.length + 1) : null
    if (given === null) continue
    if (given === undefined) return new BadInput({ message: `${LOG_LEVEL} needs a value: one of ${LOG_LEVELS.join(", ")}` })
    if (!LOG_LEVELS.includes(given)) {
      return new BadInput({ message: `${LOG_LEVEL} takes one of ${LOG_LEVELS.join(", ")}; given ${JSON.stringify(given)}` })
    }
    if (arg === LOG_LEVEL) i++
  }
  return undefined
}

/**
 * An option before the command it belongs to (`ai-jobs --database d jobs
 * list`): @effect/cli calls the command invalid, naming it among the valid
 * ones. Only its own options (`--log-level`) go before a command.
 */
const optionBeforeCommand = (args: ReadonlyArray<string>): BadInput | undefined => {
  const { path } = Help.locate(tree, args)
  let at = -1
  for (const name of path.slice(1)) at = args.indexOf(name, at + 1)
  const rootOptions = Help.optionNames(tree)
  const misplaced = args.slice(0, Math.max(at, 0)).map((arg) => arg.split("=")[0]!).find((name) => name.startsWith("-") && !rootOptions.has(name))
  return misplaced === undefined ? undefined : new BadInput({ message: `${misplaced} goes after the command: ${path.join(" ")} ${misplaced} …` })
}

/**
 * An option the command does not take (`--databse`, `--job` for `jobs
 * list`): one line naming it and the command's options (exit 2), where
 * @effect/cli printed "Received unknown argument" and a blank line, with no
 * `error:` and nothing about what is accepted. A value is skipped, so a
 * reason that looks like an option stays one; nothing after `--` is read.
 */
const unknownOption = (args: ReadonlyArray<string>): BadInput | undefined => {
  const { node, path } = Help.locate(tree, args)
  const names = Help.optionNames(node)
  const name = optionWords(args, Help.valueOptions(node)).map((word) => word.split("=")[0]!)
    .find((word) => word.startsWith("-") && word !== "-" && !names.has(word))
  if (name === undefined) return undefined
  const own = [...names].filter((option) => option.startsWith("--") && !Help.BUILT_IN_OPTIONS.includes(option))
  return new BadInput({
    message: `unknown option ${JSON.stringify(name)} for ${path.join(" ")}; ` +
      (own.length === 0 ? "it takes none" : `expected one of ${own.join(", ")}`) + ` (see: ${path.join(" ")} --help)`
  })
}

/** The words @effect/cli reads as a flag's value (`--json=true`); it lowers none of them. */
const FLAG_VALUES: ReadonlySet<string> = new Set(["true", "1", "y", "yes", "on", "false", "0", "n", "no", "off"])

/**
 * A flag given a value it does not take (`--json=maybe`, `--dry-run=nope`):
 * one line naming the flag (exit 2), where @effect/cli printed "Received
 * unknown argument: 'maybe'" and a blank line. The yes/no words it reads
 * (`--json=false`) still pass; an option's value is skipped, so a reason
 * that looks like a flag stays one.
 */
const flagGivenValue = (args: ReadonlyArray<string>): BadInput | undefined => {
  const { node } = Help.locate(tree, args)
  const takesValue = Help.valueOptions(node)
  const names = Help.optionNames(node)
  for (const word of optionWords(args, takesValue)) {
    const [name, ...rest] = word.split("=")
    if (rest.length === 0 || !names.has(name!) || takesValue.has(name!) || Help.BUILT_IN_OPTIONS.includes(name!)) continue
    const value = rest.join("=")
    if (!FLAG_VALUES.has(value)) {
      return new BadInput({ message: `${name!} takes no value, given ${JSON.stringify(value)}: write ${name!} alone` })
    }
  }
  return undefined
}

/**
 * A command given fewer or more arguments than it takes (`jobs show`, `jobs
 * cancel --reason x`, `jobs show a b`): one line naming what is missing or
 * extra, with the command's usage (exit 2), where @effect/cli printed
 * "Missing argument <job-id>" or "Received unknown argument" and a blank line.
 * An option's value is not an argument; every word after `--` is one.
 */
const wrongArguments = (args: ReadonlyArray<string>): BadInput | undefined => {
  const { node, path } = Help.locate(tree, args)
  if (node.children.length > 0) return undefined
  let at = -1
  for (const name of path.slice(1)) at = args.indexOf(name, at + 1)
  const rest = args.slice(at + 1)
  const end = rest.indexOf("--")
  const given = [
    ...optionWords(end === -1 ? rest : rest.slice(0, end), Help.valueOptions(node)).filter((word) => !word.startsWith("-") || word === "-"),
    ...(end === -1 ? [] : rest.slice(end + 1))
  ]
  const expected = Help.positionalArguments(node)
  if (given.length === expected.length) return undefined
  const command = path.join(" ")
  const usage = `usage: ${command} ${Help.usageOf(node)}`.trim()
  return new BadInput({
    message: given.length < expected.length
      ? `missing ${expected.slice(given.length).join(" ")} for ${command}; ${usage}`
      : `unexpected argument ${JSON.stringify(given[expected.length])} for ${command}: it takes ` +
        `${expected.length === 0 ? "no arguments, only options" : `only ${expected.join(" ")}`}; ${usage}`
  })
}

/** A word after a command group that names none of its commands: one line naming them (exit 2). */
const unknownCommand = (args: ReadonlyArray<string>): BadInput | undefined => {
  const unknown = Help.unknownSubcommand(tree, args)
  return unknown === undefined ? undefined : new BadInput({
    message: `unknown command ${JSON.stringify(unknown.word)} for ${unknown.path.join(" ")}; expected one of ${unknown.names.join(", ")}`
  })
}

/** A missing table usually means an unmigrated database; say how to fix it. */
const hint = (message: string) =>
  /no such table|relation .* does not exist/i.test(message) ? `${message} (is the database migrated? run: ai-jobs migrate)` : message

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
  return Effect.as(Console.error(`error: ${clipped(hint(describeError(error)))}`), ExitCode.failure)
}

const program = Effect.suspend(() => {
  const args = process.argv.slice(2)
  // Before anything reads a word: Node has already put U+FFFD in place of bytes that are not UTF-8.
  const notUtf8 = argumentNotUtf8(args)
  if (notUtf8 !== undefined) return Effect.fail(new BadInput({ message: notUtf8 }))
  const help = helpFor(args)
  if (help !== undefined) return Console.log(help)
  const joined = joinRepeatedLists(args)
  const missing = badLogLevel(args) ?? missingValue(args) ?? unknownCommand(args) ?? optionBeforeCommand(args) ?? unknownOption(args) ?? flagGivenValue(args) ?? wrongArguments(args) ?? repeatedOption(joined)
  if (missing !== undefined) return Effect.fail(missing)
  return cli([...process.argv.slice(0, 2), ...joined])
}).pipe(
  Effect.as(ExitCode.ok as number),
  Effect.catchAll(report),
  // A defect is a bug: show the cause, still without exiting 0.
  Effect.catchAllDefect((defect) => Effect.as(Console.error(`error: unexpected failure: ${Cause.pretty(Cause.die(defect))}`), ExitCode.failure)),
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
// runMain removes its own listeners on the first signal, so a second one met Node's default
// action: a second Ctrl-C killed recover, prune or retention half way through its change, with
// nothing printed. These listeners stay: once a change has begun, a further signal only says (once)
// that it is being finished; before, it ends the process as the signal would have.
let stoppedBy: 130 | 143 | undefined
let finishingSaid = false
const onSignal = (code: 130 | 143) => () => {
  if (stoppedBy === undefined) {
    stoppedBy = code
    return
  }
  if (!changeBegun()) process.exit(code)
  if (!finishingSaid) process.stderr.write(`${finishingChange}\n`)
  finishingSaid = true
}
process.on("SIGINT", onSignal(130))
process.on("SIGTERM", onSignal(143))

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

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  disablePrettyLogger: true,
  teardown: (exit, onExit) => {
    // Interrupted after a change had begun, the command still finished it and printed its report
    // (change.ts): it exits 0, as it did what was asked, and says the signal stopped nothing.
    // Stopped before it changed anything, it exits 128 + the signal's number.
    const lateSignal = !Exit.isSuccess(exit) && Cause.isInterruptedOnly(exit.cause) && changeReported()
    if (lateSignal) process.stderr.write(`${interruptedAfterChange}\n`)
    const code = Exit.isSuccess(exit) ? exit.value : lateSignal ? ExitCode.ok : Cause.isInterruptedOnly(exit.cause) ? stoppedBy ?? 130 : ExitCode.failure
    exitAfterOutput(typeof code === "number" ? code : ExitCode.failure, onExit)
  }
})
