/**
 * Help for people: `ai-jobs [command ...] --help`, fitted to the terminal's
 * width, plain unless the terminal takes colour. Built from each command's
 * own @effect/cli description, options and usage, but laid out here:
 * @effect/cli's renderer prints `$ list` for `ai-jobs jobs list`, adds a type
 * line such as "A user-defined piece of text." to every option, never wraps,
 * and always writes ANSI styles.
 */
import * as Args from "@effect/cli/Args"
import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import type * as HelpDoc from "@effect/cli/HelpDoc"
import type * as Span from "@effect/cli/HelpDoc/Span"
import * as Options from "@effect/cli/Options"
import * as Usage from "@effect/cli/Usage"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import { wrap } from "./layout.js"

/** A command and the commands under it, in the order they are declared: the CLI's tree. */
export interface CommandNode {
  // Any command: help reads only its name, description, options and usage.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly command: Command.Command<any, any, any, any>
  readonly children: ReadonlyArray<CommandNode>
}

/** How help is drawn: its width, and whether headings may be bold. */
export interface HelpStyle {
  readonly width: number
  readonly color: boolean
}

const config = CliConfig.make({ showBuiltIns: false })

const nameOf = (node: CommandNode): string => [...Command.getNames(node.command)][0] ?? ""

const spanText = (span: Span.Span): string => {
  switch (span._tag) {
    case "Text":
    case "URI":
      return span.value
    case "Sequence":
      return spanText(span.left) + spanText(span.right)
    case "Highlight":
    case "Strong":
    case "Weak":
      return spanText(span.value)
  }
}

/** A help document as its sections: heading → paragraphs and definition lists, in order. */
type Section = { readonly title: string; readonly paragraphs: Array<string>; readonly definitions: Array<readonly [string, Array<string>]> }

const paragraphsOf = (doc: HelpDoc.HelpDoc): Array<string> => {
  switch (doc._tag) {
    case "Paragraph":
      return [spanText(doc.value)]
    case "Sequence":
      return [...paragraphsOf(doc.left), ...paragraphsOf(doc.right)]
    case "Enumeration":
      return doc.elements.flatMap(paragraphsOf)
    case "DescriptionList":
      return doc.definitions.flatMap(([, description]) => paragraphsOf(description))
    default:
      return []
  }
}

const sectionsOf = (doc: HelpDoc.HelpDoc): Array<Section> => {
  const sections: Array<Section> = []
  const visit = (part: HelpDoc.HelpDoc): void => {
    const current = sections[sections.length - 1]
    switch (part._tag) {
      case "Header":
        sections.push({ title: spanText(part.value), paragraphs: [], definitions: [] })
        return
      case "Sequence":
        visit(part.left)
        visit(part.right)
        return
      case "Paragraph":
        current?.paragraphs.push(spanText(part.value))
        return
      case "DescriptionList":
        for (const [term, description] of part.definitions) current?.definitions.push([spanText(term), paragraphsOf(description)])
        return
      default:
        return
    }
  }
  visit(doc)
  return sections
}

/**
 * What @effect/cli says about every option and argument of a type, whatever
 * its description: the type line and "This setting is optional." Read from
 * options without a description, so nothing here depends on its wording.
 */
const boilerplate: ReadonlySet<string> = new Set([
  ...paragraphsOf(Options.getHelp(Options.optional(Options.text("_")))),
  ...paragraphsOf(Options.getHelp(Options.boolean("_"))),
  ...paragraphsOf(Args.getHelp(Args.text({ name: "_" })))
])

const descriptionOf = (node: CommandNode): string =>
  sectionsOf(Command.getHelp(node.command, config)).find((section) => section.title === "DESCRIPTION")?.paragraphs.join(" ") ?? ""

/** The usage of a leaf command after its path, e.g. `[--database path|url] [--json] <job-id>`. */
export const usageOf = (node: CommandNode): string => {
  const [first] = Usage.enumerate(Command.getUsage(node.command), config)
  const text = first === undefined ? "" : spanText(first)
  // The usage starts with the command's own name, which the path already has.
  return text.slice(nameOf(node).length).trim()
}

/** Every named option in a command's usage (nested optional, repeated and combined usages walked). */
const namedUsages = (node: CommandNode): ReadonlyArray<Extract<Usage.Usage, { readonly _tag: "Named" }>> => {
  const found: Array<Extract<Usage.Usage, { readonly _tag: "Named" }>> = []
  const visit = (usage: Usage.Usage): void => {
    switch (usage._tag) {
      case "Named":
        found.push(usage)
        return
      case "Optional":
      case "Repeated":
        return visit(usage.usage)
      case "Alternation":
      case "Concat":
        visit(usage.left)
        visit(usage.right)
        return
      default:
        return
    }
  }
  visit(Command.getUsage(node.command))
  return found
}

/** The positional arguments a command takes, in order, e.g. `<job-id>`: each is required. */
export const positionalArguments = (node: CommandNode): ReadonlyArray<string> =>
  namedUsages(node).flatMap((usage) => usage.names).filter((name) => name.startsWith("<"))

/** The names of a command's options that take a value, e.g. `--database`, with their pseudo-names. */
export const valueOptions = (node: CommandNode): ReadonlyMap<string, string> => {
  const found = new Map<string, string>()
  for (const usage of namedUsages(node)) {
    if (Option.isSome(usage.acceptedValues)) for (const name of usage.names) found.set(name, usage.acceptedValues.value)
  }
  return found
}

/** The levels @effect/cli's `--log-level` takes, as it spells them (lower case only). */
export const LOG_LEVELS: ReadonlyArray<string> = LogLevel.allLevels.map((level) => level._tag.toLowerCase())

/** @effect/cli's own options, which every command takes. */
export const BUILT_IN_OPTIONS: ReadonlyArray<string> = ["--help", "-h", "--version", "--wizard", "--completions", "--log-level"]

/**
 * Every option name a command takes — with a value or without (a flag such as `--json`) — and the
 * built-in ones. Not the command's own name nor its arguments' (`fail`, `<job-id>`), which
 * @effect/cli lists among its usages too: `jobs fail <id> --reason fail` read the reason as an option.
 */
export const optionNames = (node: CommandNode): ReadonlySet<string> =>
  new Set([...BUILT_IN_OPTIONS, ...namedUsages(node).flatMap((usage) => usage.names).filter((name) => name.startsWith("-"))])

/** An option's description as help prints it (without @effect/cli's type lines). */
export const optionDescription = (node: CommandNode, name: string): string => {
  const options = sectionsOf(Command.getHelp(node.command, config)).find((section) => section.title === "OPTIONS")
  const entry = options?.definitions.find(([term]) => term.split(/[\s,()]+/).includes(name))
  return entry?.[1].filter((paragraph) => !boilerplate.has(paragraph)).join(" ") ?? ""
}

/**
 * The command a command line names, as @effect/cli finds it: at each level,
 * the first argument that is the name of a subcommand. Returns the path of
 * names from the root and the node.
 */
export const locate = (root: CommandNode, args: ReadonlyArray<string>): { readonly path: ReadonlyArray<string>; readonly node: CommandNode } => {
  const path = [nameOf(root)]
  let node = root
  let rest = args
  for (;;) {
    const index = rest.findIndex((arg) => node.children.some((child) => nameOf(child) === arg))
    const child = index === -1 ? undefined : node.children.find((candidate) => nameOf(candidate) === rest[index])
    if (child === undefined) return { path, node }
    path.push(nameOf(child))
    node = child
    rest = rest.slice(index + 1)
  }
}

/**
 * The word naming no subcommand right after a command group (`ai-jobs jobs frob`), with the
 * group's path and its subcommands' names; `undefined` when there is none. @effect/cli's own
 * message for a nested group names the root's commands instead of the group's.
 */
export const unknownSubcommand = (
  root: CommandNode,
  args: ReadonlyArray<string>
): { readonly word: string; readonly path: ReadonlyArray<string>; readonly names: ReadonlyArray<string> } | undefined => {
  const { node, path } = locate(root, args)
  const depth = path.length - 1
  const word = args[depth]
  if (node.children.length === 0 || word === undefined || word.startsWith("-")) return undefined
  if (args.slice(0, depth).some((arg, i) => arg !== path[i + 1])) return undefined
  const names = node.children.map(nameOf)
  return names.includes(word) ? undefined : { word, path, names }
}

/** Usage text cut into the pieces it may wrap between: `[--limit n]` stays whole. */
const usagePieces = (usage: string): Array<string> => usage.match(/\[[^\]]*\]|<[^>]*>|\S+/g) ?? []

/** The help text of the command at `path`. */
export const render = (node: CommandNode, path: ReadonlyArray<string>, style: HelpStyle): string => {
  const { width } = style
  const heading = (title: string) => (style.color ? `\x1b[1m${title}\x1b[0m` : title)
  const command = path.join(" ")
  const out: Array<string> = [wrap(`${command} — ${descriptionOf(node)}`, width, { hang: "  " }), ""]

  out.push(heading("USAGE"))
  if (node.children.length > 0) {
    out.push(wrap(`$ ${command} <command> [options]`, width, { indent: "  ", hang: "      " }))
  } else {
    // Wrapped between whole options, continuation lines indented under the command.
    const pieces = [`$ ${command}`, ...usagePieces(usageOf(node))]
    const lines: Array<string> = []
    let line = `  ${pieces[0] ?? ""}`
    for (const piece of pieces.slice(1)) {
      if (line.length + 1 + piece.length > width && line.trim() !== "") {
        lines.push(line)
        line = `      ${piece}`
      } else {
        line += ` ${piece}`
      }
    }
    lines.push(line)
    out.push(...lines)
  }

  const sections = sectionsOf(Command.getHelp(node.command, config))
  for (const title of ["ARGUMENTS", "OPTIONS"]) {
    const section = sections.find((candidate) => candidate.title === title)
    if (section === undefined || section.definitions.length === 0) continue
    out.push("", heading(title))
    for (const [term, paragraphs] of section.definitions) {
      out.push(wrap(term.replace(/^\((.*)\)$/, "$1"), width, { indent: "  ", hang: "    " }))
      const described = paragraphs.filter((paragraph) => !boilerplate.has(paragraph))
      for (const paragraph of described) out.push(wrap(paragraph, width, { indent: "      " }))
    }
  }

  if (node.children.length > 0) {
    out.push("", heading("COMMANDS"))
    const names = node.children.map(nameOf)
    const column = Math.max(...names.map((name) => name.length)) + 4
    for (const [i, child] of node.children.entries()) {
      const name = names[i] ?? ""
      const fits = column + 20 <= width
      out.push(fits
        ? wrap(descriptionOf(child), width, { indent: `  ${name.padEnd(column - 2)}`, hang: " ".repeat(column) })
        : [`  ${name}`, wrap(descriptionOf(child), width, { indent: "      " })].join("\n"))
    }
    out.push("", wrap(`Run '${command} <command> --help' for a command's options.`, width))
  }

  out.push("", heading("GLOBAL OPTIONS"))
  out.push("  -h, --help", wrap("Show this help.", width, { indent: "      " }))
  out.push(
    "  --log-level level",
    wrap(`Print log messages at this level and above: ${LOG_LEVELS.join(", ")}. Taken anywhere on the command line.`, width, {
      indent: "      "
    })
  )
  if (path.length === 1) out.push("  --version", wrap("Show the version.", width, { indent: "      " }))
  return out.join("\n")
}
