/**
 * A command line refused before @effect/cli reads it: each check below is a
 * mistake @effect/cli answers with a misleading line ("Invalid subcommand",
 * "Received unknown argument") and a blank one, and here becomes one line
 * naming the mistake and what is accepted (exit 2, `BadInput`).
 */
import { BadInput } from "./errors.js"
import * as Help from "./help.js"

/**
 * The first mistake on the command line `args` (as typed) for the command tree `tree`, if any;
 * `joined` is `args` with repeated list filters joined (`--state a --state b`), which may repeat.
 */
export const refuseCommandLine = (
  tree: Help.CommandNode,
  args: ReadonlyArray<string>,
  joined: ReadonlyArray<string>
): BadInput | undefined =>
  badLogLevel(tree, args) ?? missingValue(tree, args) ?? unknownCommand(tree, args) ?? optionBeforeCommand(tree, args) ??
    unknownOption(tree, args) ?? flagGivenValue(tree, args) ?? wrongArguments(tree, args) ?? repeatedOption(tree, joined)

/** An option that takes a value given none (`--database` last): @effect/cli would call it an unknown argument. */
const missingValue = (tree: Help.CommandNode, args: ReadonlyArray<string>): BadInput | undefined => {
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
const repeatedOption = (tree: Help.CommandNode, args: ReadonlyArray<string>): BadInput | undefined => {
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

/** The words that ask for help. */
const HELP: ReadonlySet<string> = new Set(["--help", "-h"])

/**
 * Whether the command line `args` asks for help: `--help` or `-h` before any `--`, and not where
 * an option's value is due — `--reason -h` forgot the reason, as `--reason --json` did, and is
 * refused by `missingValue` (it printed help and exited 0, the job untouched); `--log-level -h`
 * the same (`badLogLevel`).
 */
export const helpAsked = (tree: Help.CommandNode, args: ReadonlyArray<string>): boolean => {
  const takesValue = Help.valueOptions(Help.locate(tree, args).node)
  const end = args.indexOf("--")
  return (end === -1 ? args : args.slice(0, end)).some((arg, i) =>
    HELP.has(arg) && (i === 0 || !(takesValue.has(args[i - 1]!) || args[i - 1] === LOG_LEVEL))
  )
}

/**
 * A `--log-level` given no level or one @effect/cli does not take (`--log-level bogus`,
 * `--log-level=Info`): one line naming the flag and its levels (exit 2), where @effect/cli printed
 * "Invalid subcommand for ai-jobs - use one of …" (before the command) or "Received unknown
 * argument: '--log-level'" (after it), and a blank line. A command's option given `--log-level` as
 * its value (`--reason --log-level`) forgot its value, as `--reason --json` did (`missingValue`);
 * so did `--log-level --database d`, which says so the same way (it said `given "--database"`).
 */
const badLogLevel = (tree: Help.CommandNode, args: ReadonlyArray<string>): BadInput | undefined => {
  const { node } = Help.locate(tree, args)
  const takesValue = Help.valueOptions(node)
  const names = Help.optionNames(node)
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
    if (given === undefined || (arg === LOG_LEVEL && names.has(given.split("=")[0]!))) {
      return new BadInput({ message: `${LOG_LEVEL} needs a value: one of ${Help.LOG_LEVELS.join(", ")}` })
    }
    if (!Help.LOG_LEVELS.includes(given)) {
      return new BadInput({ message: `${LOG_LEVEL} takes one of ${Help.LOG_LEVELS.join(", ")}; given ${JSON.stringify(given)}` })
    }
    if (arg === LOG_LEVEL) i++
  }
  return undefined
}

/**
 * `args` with each `--log-level` (and its level, or `--log-level=<level>`) moved before the command:
 * @effect/cli takes it there and right after a command's name, but after a command's options
 * (`jobs list --database d --log-level debug`) it answered "Received unknown argument:
 * '--log-level'" and a blank line (exit 2). An option's value is never moved; nothing after `--`
 * moves. Read once the command line is known good (`refuseCommandLine`, which refuses
 * `--reason --log-level`: the reason forgotten).
 */
export const logLevelFirst = (tree: Help.CommandNode, args: ReadonlyArray<string>): ReadonlyArray<string> => {
  const takesValue = Help.valueOptions(Help.locate(tree, args).node)
  const end = args.indexOf("--")
  const levels: Array<string> = []
  const rest: Array<string> = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if ((end !== -1 && i >= end) || !(arg === LOG_LEVEL || arg.startsWith(`${LOG_LEVEL}=`))) {
      rest.push(arg)
      if ((end === -1 || i < end) && takesValue.has(arg) && i + 1 < args.length) rest.push(args[++i]!)
      continue
    }
    levels.push(arg)
    if (arg === LOG_LEVEL && i + 1 < args.length) levels.push(args[++i]!)
  }
  return levels.length === 0 ? args : [...levels, ...rest]
}

/**
 * An option before the command it belongs to (`ai-jobs --database d jobs
 * list`): @effect/cli calls the command invalid, naming it among the valid
 * ones. Only its own options (`--log-level`) go before a command.
 */
const optionBeforeCommand = (tree: Help.CommandNode, args: ReadonlyArray<string>): BadInput | undefined => {
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
const unknownOption = (tree: Help.CommandNode, args: ReadonlyArray<string>): BadInput | undefined => {
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
const flagGivenValue = (tree: Help.CommandNode, args: ReadonlyArray<string>): BadInput | undefined => {
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
const wrongArguments = (tree: Help.CommandNode, args: ReadonlyArray<string>): BadInput | undefined => {
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
const unknownCommand = (tree: Help.CommandNode, args: ReadonlyArray<string>): BadInput | undefined => {
  const unknown = Help.unknownSubcommand(tree, args)
  return unknown === undefined ? undefined : new BadInput({
    message: `unknown command ${JSON.stringify(unknown.word)} for ${unknown.path.join(" ")}; expected one of ${unknown.names.join(", ")}`
  })
}
