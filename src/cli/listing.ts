/** What the listing commands (`jobs list`, `events`) share: `--limit`, optional filters, and printing a page. */
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { json } from "./format.js"
import * as Parse from "./parse.js"
import type { Collected } from "./queries.js"

/** Default number of rows a listing shows. */
export const DEFAULT_LIMIT = 100

/** `--limit`. */
export const limitOption = Options.text("limit").pipe(
  Options.withPseudoName("n"),
  Options.withDescription(`Show at most this many rows (default ${DEFAULT_LIMIT})`),
  Options.optional
)

/** An optional text filter such as `--kind <kind,...>`, checked later by a parser of ./parse.ts. */
export const filterOption = (name: string, pseudoName: string, description: string) =>
  Options.text(name).pipe(Options.withPseudoName(pseudoName), Options.withDescription(description), Options.optional)

/** Parses `--limit`. */
export const parseLimit = (value: Option.Option<string>) =>
  Effect.map(Parse.optional(value, Parse.integer("--limit", 1, 1_000_000)), Option.getOrElse(() => DEFAULT_LIMIT))

/** `{ [key]: value }` when a filter was given, `{}` otherwise: spread into a store filter. */
export const filter = <K extends string, A>(key: K, value: Option.Option<A>): { readonly [P in K]?: A } =>
  Option.match(value, { onNone: () => ({}), onSome: (a) => ({ [key]: a }) as { readonly [P in K]?: A } })

/**
 * Prints a listing: encoded JSON or a table (or `none` when empty). A cut
 * listing is announced on stderr, so JSON on stdout stays clean.
 */
export const printListing = <A>(collected: Collected<A>, options: {
  readonly json: boolean
  readonly limit: number
  readonly noun: string
  /** The listing's order, which says which end of it is shown when it is cut (the newest or the oldest). */
  readonly order: "asc" | "desc"
  readonly encode: (item: A) => unknown
  readonly table: (items: ReadonlyArray<A>) => string
}) =>
  Effect.gen(function*() {
    const { items, truncated } = collected
    yield* Console.log(
      options.json ? json(items.map(options.encode)) : items.length === 0 ? `No ${options.noun} match.` : options.table(items)
    )
    if (truncated) {
      // "the newest 1 job", not "1 jobs": the noun is given plural.
      const noun = options.limit === 1 ? options.noun.replace(/s$/, "") : options.noun
      yield* Console.error(`(showing the ${options.order === "desc" ? "newest" : "oldest"} ${options.limit} ${noun}; more match: narrow the filters or raise --limit)`)
    }
  })
