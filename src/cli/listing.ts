/** What the listing commands (`jobs list`, `events`) share: `--limit`, `--cursor`, optional filters, and printing a page. */
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { DecodeFailure } from "../domain/Errors.js"
import type { Database } from "./database.js"
import { BadInput } from "./errors.js"
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
 * `[flag, value]` when a filter was given, `[]` otherwise: the words that give
 * it again in a read-on command. Values are given as parsed (a whole job id,
 * an instant rather than "2h ago"), so the command reads the same rows later;
 * parsed values are ids, instants, names and cursors, none needing quotes.
 */
export const given = (flag: string, value: Option.Option<string>): ReadonlyArray<string> =>
  Option.match(value, { onNone: () => [], onSome: (text) => [flag, text] })

/**
 * What a printed command that names `database` again says besides: that the password masked in
 * it (`***`) is to be given again. None when none was.
 */
export const passwordNote = (database: Database): string | undefined =>
  database.again.passwordMasked ? "its database password shows as ***: give it in its place" : undefined

/**
 * The store's refusal of `--cursor`, in the CLI's terms (bad input, exit 2).
 * Of the two orders, a cursor refused for its order continues the one not asked for.
 */
export const refuseBadCursor = (asked: "asc" | "desc") =>
<A, E extends { readonly _tag: string }, R>(self: Effect.Effect<A, E, R>) =>
  Effect.catchIf(
    self,
    (error): error is Extract<E, DecodeFailure> => error._tag === "DecodeFailure" && (error as unknown as DecodeFailure).subject === "cursor",
    (error) => {
      const [issue] = error.issues
      const its = asked === "asc" ? "newest" : "oldest"
      return Effect.fail(
        new BadInput({
          message: issue?.path === "order"
            ? `bad --cursor: it continues a listing ${its} first; give --order ${its} with it`
            : `bad --cursor: ${issue?.message ?? error.message}`
        })
      )
    }
  )

/**
 * Prints a listing: encoded JSON or a table (or `none` when empty). A cut
 * listing is announced on stderr, so JSON on stdout stays clean, with the
 * command that reads on after the last row shown (`--cursor`, the store's
 * keyset cursor): as text, or with `--json` as a JSON object with that
 * cursor (`next_cursor`, as GET /jobs and GET /events name it) and the command (`rest`).
 * The command names the database as it was named (`Database.again`): a cursor read
 * from another database is refused, or continues the wrong listing.
 */
export const printListing = <A>(collected: Collected<A>, options: {
  readonly json: boolean
  readonly limit: number
  readonly noun: string
  /** The listing's order, which says which end of it is shown when it is cut (the newest or the oldest). */
  readonly order: "asc" | "desc"
  /** The command's words (`ai-jobs events`); what reads on names the database after them, as it was named. */
  readonly command: ReadonlyArray<string>
  /** The database listed: what reads on reads it again (`Database.again`). */
  readonly database: Database
  /** The filters and order it was given (see `given`): what reads on repeats them. */
  readonly filters: ReadonlyArray<string>
  readonly encode: (item: A) => unknown
  readonly table: (items: ReadonlyArray<A>) => string
}) =>
  Effect.gen(function*() {
    const { items, next_cursor } = collected
    yield* Console.log(
      options.json ? json(items.map(options.encode)) : items.length === 0 ? `No ${options.noun} match.` : options.table(items)
    )
    if (next_cursor === null) return
    const rest = [
      ...options.command,
      ...options.database.again.words,
      ...options.filters,
      ...(options.limit === DEFAULT_LIMIT ? [] : ["--limit", String(options.limit)]),
      ...(options.json ? ["--json"] : []),
      "--cursor",
      next_cursor
    ].join(" ")
    const note = passwordNote(options.database)
    if (options.json) return yield* Console.error(JSON.stringify({ next_cursor, rest, ...(note === undefined ? {} : { note }) }))
    // "the newest 1 job", not "1 jobs": the noun is given plural.
    const noun = options.limit === 1 ? options.noun.replace(/s$/, "") : options.noun
    yield* Console.error(`(showing the ${options.order === "desc" ? "newest" : "oldest"} ${options.limit} ${noun}; more match: read on with ${rest}${note === undefined ? "" : `; ${note}`})`)
  })
