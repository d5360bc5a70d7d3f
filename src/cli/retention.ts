/**
 * `ai-jobs retention`: purge Flight Recorder events older than the retention
 * window (R10, R13), or with `--dry-run` count them and change nothing — the
 * audit trail is the one thing an operator cannot get back. A purge is itself
 * recorded: a `gc_summary` event per batch, actor human, committed with the
 * batch (Janitor.purgeEvents).
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as FlightRecorder from "../FlightRecorder.js"
import * as Janitor from "../Janitor.js"
import { JobStore } from "../store/JobStore.js"
import { betweenSteps, changeThenReport } from "./change.js"
import { databaseOption, recorderLayer, resolve } from "./database.js"
import { json, time } from "./format.js"
import * as Parse from "./parse.js"
import { withProgress } from "./progress.js"

/** The recorder's retention window (R13), as an operator would write it. */
const DEFAULT_WINDOW = `${Math.round(Duration.toHours(FlightRecorder.DEFAULT_RETENTION) / 24)}d`

/** Events stored before `cutoff` (what a purge at `cutoff` deletes: `timestamp < cutoff`), counted a page at a time. */
const countBefore = (cutoff: DateTime.Utc) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    let count = 0
    let cursor: string | undefined
    do {
      const page = yield* store.listEvents({ until: cutoff, limit: 1000, ...(cursor === undefined ? {} : { cursor }) })
      count += page.items.length
      cursor = page.next_cursor ?? undefined
    } while (cursor !== undefined)
    return count
  })

/** Purges events older than `--older-than` (default: the recorder's 7-day window), in short batches. */
export const retentionCommand = Command.make(
  "retention",
  {
    database: databaseOption,
    olderThan: Options.text("older-than").pipe(
      Options.withPseudoName("duration"),
      Options.withDescription(`Purge events older than this (default ${DEFAULT_WINDOW}, the recorder's retention window; e.g. 30d)`),
      Options.optional
    ),
    dryRun: Options.boolean("dry-run").pipe(Options.withDescription("Count the events that would be purged; change nothing")),
    json: Options.boolean("json").pipe(Options.withDescription("Print the result as JSON"))
  },
  (options) =>
    Effect.gen(function*() {
      const windowText = Option.getOrElse(options.olderThan, () => DEFAULT_WINDOW)
      const window = yield* Parse.duration("--older-than")(windowText)
      const database = yield* resolve(options.database)
      const cutoff = DateTime.subtractDuration(yield* DateTime.now, window)
      const layer = recorderLayer(database, { migrate: false, create: false, readonly: options.dryRun }, { retention: window })
      // Counted as the batches commit. A purge writes one gc_summary per batch, with the batch
      // (Janitor.purgeEvents).
      let purged = 0
      let summaries = 0
      const recorded = (count: number) =>
        count === 0
          ? "nothing changed."
          : count === 1
          ? "a gc_summary event records the purge."
          : `${count} gc_summary events record the purge, one per batch.`
      const answer = (total: number) =>
        Console.log(
          options.json
            ? json({ cutoff: DateTime.formatIso(cutoff), dry_run: options.dryRun, purged: total, ...(options.dryRun ? {} : { gc_summaries: summaries }) })
            : options.dryRun
            ? `Would purge ${total} Flight Recorder event(s) older than ${time(cutoff)} (${windowText} ago); nothing changed.`
            : `Purged ${total} Flight Recorder event(s) older than ${time(cutoff)} (${windowText} ago)` +
              `${total === 0 ? "." : `; ${recorded(summaries)}`}`
        )
      // A dry run only reads: it opens the database read-only, so it works on a read-only copy.
      if (options.dryRun) {
        return yield* Effect.flatMap(countBefore(cutoff).pipe(withProgress("counting old events")), answer).pipe(Effect.provide(layer))
      }
      // Each batch commits with its own gc_summary, actor human (HSK-GC-004). Stopped by a signal
      // between batches (only there: a batch that fails after a signal came is reported as failed),
      // or failed part-way, what the committed batches purged is printed (the error follows on stderr).
      yield* changeThenReport(
        layer,
        Effect.zipRight(
          betweenSteps,
          Janitor.purgeEvents({
            cutoff,
            onBatch: (count) =>
              Effect.zipRight(
                Effect.sync(() => {
                  purged += count
                  if (count > 0) summaries += 1
                }),
                betweenSteps
              )
          })
        ).pipe(withProgress("purging old events")),
        answer,
        {
          partial: (ended) =>
            Effect.suspend(() =>
              Console.log(
                options.json
                  ? json({ cutoff: DateTime.formatIso(cutoff), dry_run: false, purged, gc_summaries: summaries, [ended]: true })
                  : `${ended === "stopped" ? "Stopped by a signal after purging" : "Failed after purging"} ${purged} Flight Recorder ` +
                    `event(s) older than ${time(cutoff)}; ${recorded(summaries)}`
              )
            )
        }
      )
    })
).pipe(Command.withDescription("Enforce the Flight Recorder retention window: delete events older than it, recorded in a gc_summary event."))
