/**
 * Arguments and environment values whose bytes are not UTF-8. Node decodes
 * both as UTF-8 with U+FFFD in place of each bad byte, silently: a
 * `--reason` with a stray Latin-1 byte was stored with U+FFFD (the HTTP API
 * refuses such bytes), and a Latin-1 file name in `--database` named another
 * file, which `migrate` created. The raw bytes are read from Linux's
 * /proc/self/cmdline and /proc/self/environ, once, at the start of a command
 * (or when the variable is read). Where /proc is not there (macOS, Windows) the
 * bytes cannot be known and the values are taken as Node decoded them.
 */
import { readFileSync } from "node:fs"

const strict = new TextDecoder("utf-8", { fatal: true })
const lossy = new TextDecoder("utf-8")

const isUtf8 = (bytes: Uint8Array): boolean => {
  try {
    strict.decode(bytes)
    return true
  } catch {
    return false
  }
}

/** The NUL-separated entries of a /proc file as raw bytes, or undefined without /proc. */
const entriesOf = (file: string): ReadonlyArray<Buffer> | undefined => {
  let raw: Buffer
  try {
    raw = readFileSync(file)
  } catch {
    return undefined
  }
  const entries: Array<Buffer> = []
  let start = 0
  for (let end = raw.indexOf(0); end !== -1; start = end + 1, end = raw.indexOf(0, start)) entries.push(raw.subarray(start, end))
  if (start < raw.length) entries.push(raw.subarray(start))
  return entries
}

/** What a command-line word is to the operator: the option it is the value of, or the word itself. */
const nameOf = (args: ReadonlyArray<string>, index: number): string => {
  const word = args[index] ?? ""
  const option = /^(--?[A-Za-z][\w-]*)=/.exec(word)
  if (option !== null) return `${option[1]}'s value`
  const before = args[index - 1]
  if (before !== undefined && /^--?[A-Za-z][\w-]*$/.test(before) && !word.startsWith("-")) return `${before}'s value`
  return `argument ${index + 1}`
}

/**
 * Why `args` (process.argv after the script) is refused, or undefined: the
 * first argument whose raw bytes are not UTF-8. Node's own path, flags and
 * script come first in /proc/self/cmdline, so the arguments are its last
 * entries; they are trusted only when they decode to exactly `args` (a
 * rewritten process title would not).
 */
export const argumentNotUtf8 = (args: ReadonlyArray<string>): string | undefined => {
  if (args.every((arg) => !arg.includes("\uFFFD"))) return undefined // every bad byte became U+FFFD: none, nothing to read
  const entries = entriesOf("/proc/self/cmdline")
  if (entries === undefined || entries.length < args.length) return undefined
  const raw = entries.slice(entries.length - args.length)
  if (raw.some((bytes, index) => lossy.decode(bytes) !== args[index])) return undefined
  const index = raw.findIndex((bytes) => !isUtf8(bytes))
  return index === -1 ? undefined : notUtf8(nameOf(args, index))
}

/**
 * Why the variable `name`'s value is refused, or undefined: its raw bytes,
 * as the process was started with them, are not UTF-8. Only for a value
 * still as started (one the process set itself is text already).
 */
export const environmentNotUtf8 = (name: string): string | undefined => {
  const value = process.env[name]
  if (value === undefined || !value.includes("\uFFFD")) return undefined
  const prefix = Buffer.from(`${name}=`)
  const entry = entriesOf("/proc/self/environ")?.find((bytes) => bytes.subarray(0, prefix.length).equals(prefix))
  if (entry === undefined) return undefined
  const bytes = entry.subarray(prefix.length)
  return lossy.decode(bytes) === value && !isUtf8(bytes) ? notUtf8(name) : undefined
}

const notUtf8 = (what: string) =>
  `${what} holds bytes that are not UTF-8 (which would be read as U+FFFD, naming or storing something else); give it as UTF-8`
