/**
 * `ai-jobs prune`: the Janitor's pruning (R18) on demand. Deletes old jobs in a
 * prunable state (terminal or failed); pinned jobs and the newest `--keep`
 * always stay, events always stay; prints the report and records it as a
 * `gc_summary` event, actor `human` (HSK-GC-003). A dry run counts and writes nothing.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Duration from "effect/Duration"
import * as Janitor from "../Janitor.js"
import { changeThenReport } from "./change.js"
import { databaseOption, recorderLayer, resolve } from "./database.js"
import { json, time } from "./format.js"
import * as Parse from "./parse.js"
import { withProgress } from "./progress.js"

/** Prunable jobs untouched for this long are pruned by default: the Janitor's default. */
export const DEFAULT_PRUNE_AGE = `${Math.round(Duration.toHours(Janitor.DEFAULT_PRUNE_AGE) / 24)}d`
/** The newest prunable jobs kept by default, however old: the Janitor's default. */
export const DEFAULT_KEEP = Janitor.DEFAULT_KEEP_NEWEST

/** Deletes (or with `--dry-run`, counts) prunable jobs with their runs and node executions. */
export const pruneCommand = Command.make(
  "prune",
  {
    database: databaseOption,
    olderThan: Options.text("older-than").pipe(
      Options.withPseudoName("duration"),
      Options.withDescription(`Prune terminal and failed jobs last updated longer ago than this (default ${DEFAULT_PRUNE_AGE}; e.g. 90d, 12h)`),
      Options.optional
    ),
    keep: Options.text("keep").pipe(
      Options.withPseudoName("n"),
      Options.withDescription(`Always keep the newest N unpinned terminal or failed jobs (default ${DEFAULT_KEEP})`),
      Options.optional
    ),
    dryRun: Options.boolean("dry-run").pipe(Options.withDescription("Count what would be deleted; change nothing")),
    json: Options.boolean("json").pipe(Options.withDescription("Print the result as JSON"))
  },
  (options) =>
    Effect.gen(function*() {
      const ageText = Option.getOrElse(options.olderThan, () => DEFAULT_PRUNE_AGE)
      const age = yield* Parse.duration("--older-than")(ageText)
      const keepNewest = Option.getOrElse(yield* Parse.optional(options.keep, Parse.integer("--keep", 0, 1_000_000_000)), () => DEFAULT_KEEP)
      const database = yield* resolve(options.database)
      const olderThan = DateTime.subtractDuration(yield* DateTime.now, age)
      // Counted as the batches commit: each writes its own gc_summary (Janitor.prune).
      let batches = 0
      let pruned = 0
      const pruning = Janitor.prune({
        olderThan,
        keepNewest,
        dryRun: options.dryRun,
        // An operator's prune, audited as one: its summaries say `human`, the scheduled Janitor's `system`.
        actor: "human",
        onBatch: (batch) =>
          Effect.sync(() => {
            batches += 1
            pruned += batch.pruned
          })
      }).pipe(
        withProgress(options.dryRun ? "counting prunable jobs" : "pruning jobs")
      )
      const recorded = () =>
        batches === 0
          ? "nothing changed."
          : batches === 1
          ? "a gc_summary event records this pass."
          : `${batches} gc_summary events record this pass, one per batch of up to ${Janitor.DEFAULT_PRUNE_BATCH} jobs.`
      const answer = (report: Janitor.JanitorReport) =>
        options.json
          ? Console.log(json({
            dry_run: options.dryRun,
            older_than: DateTime.formatIso(olderThan),
            keep_newest: keepNewest,
            scanned: report.scanned,
            pruned: report.pruned,
            spared_pinned: report.spared_pinned,
            spared_window: report.spared_window
          }))
          : Console.log(
            `${options.dryRun ? "Would prune" : "Pruned"} ${report.pruned} of ${report.scanned} terminal or failed job(s) ` +
              `last updated before ${time(olderThan)} (${ageText} ago); spared ${report.spared_pinned} pinned and ` +
              `${report.spared_window} among the newest ${keepNewest}. Events are kept; ${options.dryRun ? "nothing changed." : recorded()}`
          )
      // A dry run only reads: it opens the database read-only, so it works on a read-only copy,
      // and an interrupt stops it anywhere. A pruning once begun runs to its end (its batches, each
      // one transaction, are not interrupted) and is reported, however it was interrupted (change.ts).
      if (options.dryRun) {
        return yield* Effect.flatMap(pruning, answer).pipe(
          Effect.provide(recorderLayer(database, { migrate: false, create: false, readonly: true }))
        )
      }
      // Failed part-way (a batch refused, a lock wait spent), the batches before it stay pruned, each
      // with its gc_summary: what they pruned is printed, then the error (stderr, exit 1).
      yield* changeThenReport(recorderLayer(database, { migrate: false, create: false }), pruning, answer, {
        partial: (ended) =>
          Effect.suspend(() =>
            Console.log(
              options.json
                ? json({
                  dry_run: false,
                  older_than: DateTime.formatIso(olderThan),
                  keep_newest: keepNewest,
                  pruned,
                  gc_summaries: batches,
                  [ended]: true
                })
                : `${ended === "stopped" ? "Stopped by a signal after pruning" : "Failed after pruning"} ${pruned} terminal or failed ` +
                  `job(s) last updated before ${time(olderThan)} (${ageText} ago). Events are kept; ${recorded()}`
            )
          )
      })
    })
).pipe(Command.withDescription("Delete terminal and failed jobs older than a cutoff, with their runs and node executions (never pinned ones); print the Janitor's report."))
