/** `ai-jobs retention`: purge Flight Recorder events older than the retention window (R10, R13). */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as FlightRecorder from "../FlightRecorder.js"
import { databaseOption, recorderLayer, resolve } from "./database.js"
import { json, time } from "./format.js"
import * as Parse from "./parse.js"
import { withProgress } from "./progress.js"

/** The recorder's retention window (R13), as an operator would write it. */
const DEFAULT_WINDOW = `${Math.round(Duration.toHours(FlightRecorder.DEFAULT_RETENTION) / 24)}d`

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
    json: Options.boolean("json").pipe(Options.withDescription("Print the result as JSON"))
  },
  (options) =>
    Effect.gen(function*() {
      const windowText = Option.getOrElse(options.olderThan, () => DEFAULT_WINDOW)
      const window = yield* Parse.duration("--older-than")(windowText)
      const database = yield* resolve(options.database)
      const cutoff = DateTime.subtractDuration(yield* DateTime.now, window)
      const purged = yield* Effect.flatMap(FlightRecorder.FlightRecorder, (recorder) => recorder.enforceRetention({ cutoff })).pipe(
        withProgress("purging old events"),
        Effect.provide(recorderLayer(database, { migrate: false, create: false }, { retention: window }))
      )
      yield* Console.log(
        options.json
          ? json({ cutoff: DateTime.formatIso(cutoff), purged })
          : `Purged ${purged} Flight Recorder event(s) older than ${time(cutoff)} (${windowText} ago).`
      )
    })
).pipe(Command.withDescription("Enforce the Flight Recorder retention window: delete events older than it."))
