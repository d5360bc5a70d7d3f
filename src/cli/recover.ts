/** `ai-jobs recover`: the startup recovery scan (R9), run on demand by an operator. */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { WorkflowRun } from "../domain/WorkflowRun.js"
import * as Recovery from "../Recovery.js"
import { changeThenReport } from "./change.js"
import { databaseOption, recorderLayer, resolve } from "./database.js"
import { encodeRun, json, shortId, tableTime } from "./format.js"
import { table } from "./layout.js"
import * as Parse from "./parse.js"
import { collectEvents } from "./queries.js"

/**
 * Of the runs a scan begun at `since` stalled, those whose job was stalled with
 * them, as their one `workflow_recovery` record says (it names the job only
 * then: a job no longer running under its run keeps its state). The records
 * are the scan's own, so at or after `since`.
 */
const stalledWithJob = (runs: ReadonlyArray<WorkflowRun>, since: DateTime.Utc) =>
  runs.length === 0 ? Effect.succeed(new Set<string>()) : Effect.map(
    collectEvents({ types: ["workflow_recovery"], since }, Number.POSITIVE_INFINITY),
    ({ items }) => {
      const stalled = new Set(runs.map((run) => run.id))
      return new Set(items.flatMap((record) =>
        typeof record.job_id === "string" && typeof record.workflow_run_id === "string" && stalled.has(record.workflow_run_id)
          ? [record.workflow_run_id]
          : []))
    }
  )

/** `--json`'s report of the runs `recovered` stalled; `withJob`: those whose job was stalled with them, `undefined` when they could not be read. */
const jsonReport = (threshold: Duration.Duration, recovered: ReadonlyArray<WorkflowRun>, withJob: ReadonlySet<string> | undefined) => ({
  threshold_secs: Duration.toSeconds(threshold),
  recovered: recovered.map(encodeRun),
  stalled_jobs: withJob === undefined ? null : recovered.flatMap((run) => withJob.has(run.id) ? [run.job_id] : [])
})

/** Moves running runs whose heartbeat is older than the threshold (and their jobs, when still running under them) to `stalled`, with a `workflow_recovery` event each. */
export const recoverCommand = Command.make(
  "recover",
  {
    database: databaseOption,
    threshold: Options.text("threshold").pipe(
      Options.withPseudoName("secs"),
      Options.withDescription(`Heartbeat age in seconds beyond which a running run is stalled (default ${Duration.toSeconds(Recovery.DEFAULT_THRESHOLD)})`),
      Options.optional
    ),
    json: Options.boolean("json").pipe(Options.withDescription("Print the result as JSON"))
  },
  (options) =>
    Effect.gen(function*() {
      // Seconds on the command line, a Duration from here on.
      const threshold = Option.match(
        yield* Parse.optional(options.threshold, Parse.integer("--threshold", 1, 31_536_000)),
        { onNone: () => Recovery.DEFAULT_THRESHOLD, onSome: Duration.seconds }
      )
      const database = yield* resolve(options.database)
      // Stopped while the database opens, nothing changed. Once the scan has begun, its batches
      // commit one by one and a report cut short would hide some: it runs to its end and is
      // reported, however it was interrupted (change.ts). Failed part-way, the runs its committed
      // batches stalled are printed before the error, and with --json whose jobs were stalled with them.
      const stalled: Array<WorkflowRun> = []
      // Those of `stalled` whose job was stalled with them, read after a failure while the store is open (undefined: unread).
      let stalledWithJobs: ReadonlySet<string> | undefined
      yield* changeThenReport(
        recorderLayer(database, { migrate: false, create: false }),
        Effect.gen(function*() {
          const since = yield* DateTime.now
          const report = yield* Recovery.recoverStalledRuns({ threshold, onBatch: (runs) => Effect.sync(() => void stalled.push(...runs)) }).pipe(
            Effect.tapError(() =>
              Effect.match(stalledWithJob(stalled, since), {
                onFailure: () => undefined,
                onSuccess: (withJob) => void (stalledWithJobs = withJob)
              })
            )
          )
          return { report, withJob: yield* stalledWithJob(report.recovered, since) }
        }),
        ({ report, withJob }) =>
          Effect.gen(function*() {
            if (options.json) return yield* Console.log(json(jsonReport(report.threshold, report.recovered, withJob)))
            yield* Console.log(`Recovered ${report.recovered.length} stalled run(s) (threshold ${Duration.toSeconds(report.threshold)}s).`)
            if (report.recovered.length > 0) {
              // JOB is the run's; whether it was stalled with its run is said apart (a run may be stalled alone).
              yield* Console.log(table(
                [{ header: "RUN" }, { header: "JOB" }, { header: "JOB STALLED" }, { header: "LAST HEARTBEAT" }],
                report.recovered.map((run) => [
                  shortId(run.id),
                  shortId(run.job_id),
                  withJob.has(run.id) ? "yes" : "no (run alone)",
                  tableTime(run.last_heartbeat)
                ])
              ))
            }
          }),
        {
          partial: () =>
            Effect.suspend(() =>
              options.json
                ? Console.log(json({ ...jsonReport(threshold, stalled, stalledWithJobs), failed: true }))
                : Console.log(
                  `Failed after stalling ${stalled.length} run(s) (threshold ${Duration.toSeconds(threshold)}s)` +
                    (stalled.length === 0 ? "; nothing changed." : ", each with its workflow_recovery event.")
                )
            )
        }
      )
    })
).pipe(Command.withDescription("Move running workflow runs with a stale heartbeat, and their jobs still running under them, to stalled (one workflow_recovery event each)."))
