/**
 * `ai-jobs retention`: purge Flight Recorder events older than the retention
 * window (R10, R13), or with `--dry-run` count them and change nothing — the
 * audit trail is the one thing an operator cannot get back. A purge is itself
 * recorded: a `gc_summary` event, actor human (Janitor.purgeEvents).
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
import { changeThenReport } from "./change.js"
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
      const answer = (purged: number) =>
        Console.log(
          options.json
            ? json({ cutoff: DateTime.formatIso(cutoff), dry_run: options.dryRun, purged })
            : options.dryRun
            ? `Would purge ${purged} Flight Recorder event(s) older than ${time(cutoff)} (${windowText} ago); nothing changed.`
            : `Purged ${purged} Flight Recorder event(s) older than ${time(cutoff)} (${windowText} ago)` +
              `${purged === 0 ? "." : "; a gc_summary event records the purge."}`
        )
      // A dry run only reads: it opens the database read-only, so it works on a read-only copy.
      if (options.dryRun) {
        return yield* Effect.flatMap(countBefore(cutoff).pipe(withProgress("counting old events")), answer).pipe(Effect.provide(layer))
      }
      // The purge is recorded as the Janitor records its own (HSK-GC-004): a gc_summary, actor
      // human, also when an interrupt stops it between batches — what was purged is then printed.
      let purged = 0
      yield* changeThenReport(
        layer,
        Janitor.purgeEvents({ cutoff, onBatch: (count) => Effect.sync(() => (purged += count)) }).pipe(withProgress("purging old events")),
        answer,
        {
          interruptible: true,
          stopped: Effect.suspend(() =>
            Console.log(
              options.json
                ? json({ cutoff: DateTime.formatIso(cutoff), dry_run: false, purged, stopped: true })
                : `Stopped by a signal after purging ${purged} Flight Recorder event(s) older than ${time(cutoff)}` +
                  `${purged === 0 ? "; nothing changed." : "; a gc_summary event records the purge."}`
            )
          )
        }
      )
    })
).pipe(Command.withDescription("Enforce the Flight Recorder retention window: delete events older than it, recorded in a gc_summary event."))
