/**
 * `ai-jobs retention`: purge Flight Recorder events older than the retention
 * window (R10, R13), or with `--dry-run` count them and change nothing — the
 * audit trail is the one thing an operator cannot get back.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as FlightRecorder from "../FlightRecorder.js"
import type { DecodeFailure } from "../domain/Errors.js"
import { JobStore, type ReadError } from "../store/JobStore.js"
import type { StorageError } from "../store/StoreErrors.js"
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
      const purge: Effect.Effect<number, DecodeFailure | ReadError | StorageError, JobStore | FlightRecorder.FlightRecorder> = options.dryRun
        ? countBefore(cutoff)
        : Effect.flatMap(FlightRecorder.FlightRecorder, (recorder) => recorder.enforceRetention({ cutoff }))
      const purged = yield* purge.pipe(
        withProgress(options.dryRun ? "counting old events" : "purging old events"),
        // A dry run only reads: it opens the database read-only, so it works on a read-only copy.
        Effect.provide(recorderLayer(database, { migrate: false, create: false, readonly: options.dryRun }, { retention: window }))
      )
      yield* Console.log(
        options.json
          ? json({ cutoff: DateTime.formatIso(cutoff), dry_run: options.dryRun, purged })
          : options.dryRun
          ? `Would purge ${purged} Flight Recorder event(s) older than ${time(cutoff)} (${windowText} ago); nothing changed.`
          : `Purged ${purged} Flight Recorder event(s) older than ${time(cutoff)} (${windowText} ago).`
      )
    })
).pipe(Command.withDescription("Enforce the Flight Recorder retention window: delete events older than it."))
