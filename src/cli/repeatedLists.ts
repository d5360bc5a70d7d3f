/**
 * The list filters (`--state`, `--kind`, `--type`) repeated: `--state failed
 * --state stalled` is read as `--state failed,stalled`. @effect/cli takes an
 * option once (a second is an "unknown argument"), and its repeated options
 * drop an empty value, which must stay bad input (`--state ""`); so the
 * occurrences are joined here, before parsing, into the comma list the
 * filter's parser already reads. Either form of each occurrence counts
 * (`--state failed --state=stalled`): `--state=x` is first read as
 * `--state x`. Nothing after `--` is touched.
 */
const LIST_OPTIONS: ReadonlySet<string> = new Set(["--state", "--kind", "--type"])

/** `--state=x` as `--state x` (list options only; an empty value stays, for its parser to refuse). */
const splitAssignments = (args: ReadonlyArray<string>): ReadonlyArray<string> => {
  const end = args.indexOf("--")
  return args.flatMap((arg, i) => {
    if (end >= 0 && i >= end) return [arg]
    const eq = arg.indexOf("=")
    return eq > 0 && LIST_OPTIONS.has(arg.slice(0, eq)) ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg]
  })
}

export const joinRepeatedLists = (given: ReadonlyArray<string>): ReadonlyArray<string> => {
  const args = splitAssignments(given)
  const joined: Array<string> = []
  /** Where each list option's value is in `joined`. */
  const valueAt = new Map<string, number>()
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--") {
      joined.push(...args.slice(i))
      break
    }
    const value = args[i + 1]
    if (!LIST_OPTIONS.has(arg) || value === undefined) {
      joined.push(arg)
      continue
    }
    const at = valueAt.get(arg)
    if (at === undefined) {
      valueAt.set(arg, joined.length + 1)
      joined.push(arg, value)
    } else {
      joined[at] = `${joined[at]},${value}`
    }
    i++
  }
  return joined
}
