/** `ai-jobs prune`: delete old terminal jobs (R18); pinned jobs and the newest `--keep` always stay, events always stay. */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { JobStore } from "../store/JobStore.js"
import { databaseOption, resolve, storeLayer } from "./database.js"
import { json, time } from "./format.js"
import * as Parse from "./parse.js"
import { withProgress } from "./progress.js"

/** Terminal jobs untouched for this long are prunable by default. */
export const DEFAULT_PRUNE_AGE = "30d"
/** The newest terminal jobs kept by default, however old. */
export const DEFAULT_KEEP = 100

/** Deletes (or with `--dry-run`, counts) prunable jobs with their runs and node executions. */
export const pruneCommand = Command.make(
  "prune",
  {
    database: databaseOption,
    olderThan: Options.text("older-than").pipe(
      Options.withPseudoName("duration"),
      Options.withDescription(`Prune terminal jobs last updated longer ago than this (default ${DEFAULT_PRUNE_AGE}; e.g. 90d, 12h)`),
      Options.optional
    ),
    keep: Options.text("keep").pipe(
      Options.withPseudoName("n"),
      Options.withDescription(`Always keep the newest N terminal jobs (default ${DEFAULT_KEEP})`),
      Options.optional
    ),
    dryRun: Options.boolean("dry-run").pipe(Options.withDescription("Count what would be deleted; delete nothing")),
    json: Options.boolean("json").pipe(Options.withDescription("Print the result as JSON"))
  },
  (options) =>
    Effect.gen(function*() {
      const ageText = Option.getOrElse(options.olderThan, () => DEFAULT_PRUNE_AGE)
      const age = yield* Parse.duration("--older-than")(ageText)
      const keepNewest = Option.getOrElse(yield* Parse.optional(options.keep, Parse.integer("--keep", 0, 1_000_000_000)), () => DEFAULT_KEEP)
      const database = yield* resolve(options.database)
      const olderThan = DateTime.subtractDuration(yield* DateTime.now, age)
      const { deleted } = yield* Effect.flatMap(JobStore, (store) => store.pruneJobs({ olderThan, keepNewest, dryRun: options.dryRun })).pipe(
        withProgress(options.dryRun ? "counting prunable jobs" : "pruning jobs"),
        Effect.provide(storeLayer(database, { migrate: false, create: false }))
      )
      if (options.json) {
        return yield* Console.log(json({
          dry_run: options.dryRun,
          older_than: DateTime.formatIso(olderThan),
          keep_newest: keepNewest,
          deleted
        }))
      }
      yield* Console.log(
        `${options.dryRun ? "Would delete" : "Deleted"} ${deleted} terminal job(s) last updated before ${time(olderThan)} ` +
          `(${ageText} ago), keeping the newest ${keepNewest} and every pinned job. Events are kept.`
      )
    })
).pipe(Command.withDescription("Delete terminal jobs older than a cutoff, with their runs and node executions (never pinned ones)."))
