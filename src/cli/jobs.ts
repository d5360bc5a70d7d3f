/**
 * `ai-jobs jobs ...`: inspecting jobs (list, show) — read-only — and acting
 * on them (resume, rework, retry, fail, cancel, pin, unpin; see actions.ts).
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { JobKinds } from "../domain/JobKind.js"
import { JobStates } from "../domain/JobState.js"
import { DETAIL_NODES, DETAIL_RUNS, firstNodeSummaries, firstRuns } from "../internal/firstOfRuns.js"
import { missingEvidenceOf } from "../internal/missingEvidence.js"
import { sayingWhenPruned } from "../internal/prunedJob.js"
import { JobStore } from "../store/JobStore.js"
import { actionCommands, jobIdArgument } from "./actions.js"
import { type Database, databaseOption, recorderLayer, resolve } from "./database.js"
import { encodeEvent, encodeEvidenceMissing, encodeJob, encodeNodeSummary, encodeRun, jobDetail, jobsTable, json } from "./format.js"
import { parseJobRef, resolveJobRef } from "./jobRef.js"
import { nodeCommand, nodeOfRunCommand } from "./node.js"
import * as Parse from "./parse.js"
import { filter, filterOption, given, limitOption, parseLimit, passwordNote, printListing, refuseBadCursor } from "./listing.js"
import { collectEvents, collectJobs } from "./queries.js"

const jsonOption = Options.boolean("json").pipe(Options.withDescription("Print the encoded domain objects as JSON"))

const listCommand = Command.make(
  "list",
  {
    database: databaseOption,
    state: filterOption("state", "state,...", `Only jobs in these states (comma-separated, or the option repeated): ${JobStates.join(", ")}`),
    kind: filterOption("kind", "kind,...", `Only jobs of these kinds (comma-separated, or the option repeated): ${JobKinds.join(", ")}; term_exec means terminal_exec`),
    since: filterOption("since", "time|duration", "Only jobs created since a time (2026-01-19T10:00:00Z) or that long ago (2h, 7d)"),
    order: filterOption("order", "newest|oldest", "Newest jobs first (the default) or oldest first"),
    cursor: filterOption("cursor", "cursor", "Only jobs after this cursor, in its order: what a cut listing prints to read on (a `next_cursor` of GET /jobs too)"),
    limit: limitOption,
    json: jsonOption
  },
  (options) =>
    Effect.gen(function*() {
      const states = yield* Parse.optional(options.state, Parse.list("--state", Parse.jobState))
      const kinds = yield* Parse.optional(options.kind, Parse.list("--kind", Parse.jobKind))
      // "Since T" includes T, as `events --since` does; the filter's `created_after` excludes its bound, and
      // stored instants are whole milliseconds, so the bound one millisecond earlier is the same set.
      const sinceAt = yield* Parse.optional(options.since, Parse.since("--since"))
      const since = Option.map(sinceAt, (at) => DateTime.subtract(at, { millis: 1 }))
      const order = Option.getOrElse(yield* Parse.optional(options.order, Parse.order("--order")), () => "desc" as const)
      const limit = yield* parseLimit(options.limit)
      const database = yield* resolve(options.database)
      const jobs = yield* collectJobs(
        { ...filter("states", states), ...filter("kinds", kinds), ...filter("created_after", since), ...filter("cursor", options.cursor), order },
        limit
      ).pipe(refuseBadCursor(order), Effect.provide(recorderLayer(database, { migrate: false, create: false, readonly: true })))
      yield* printListing(jobs, {
        json: options.json,
        limit,
        noun: "jobs",
        order,
        command: ["ai-jobs", "jobs", "list"],
        database,
        filters: [
          ...given("--state", Option.map(states, (list) => list.join(","))),
          ...given("--kind", Option.map(kinds, (list) => list.join(","))),
          ...given("--since", Option.map(sinceAt, DateTime.formatIso)),
          ...(order === "asc" ? ["--order", "oldest"] : [])
        ],
        encode: encodeJob,
        table: (items) => jobsTable(items)
      })
    })
).pipe(Command.withDescription("List jobs, newest first (--order oldest for the other way)."))

/** Events in the order the Flight Recorder lists them: by timestamp, then event id. */
const inRecordedOrder = <E extends { readonly timestamp: DateTime.Utc; readonly event_id: string }>(events: ReadonlyArray<E>): Array<E> =>
  [...events].sort((a, b) =>
    DateTime.toEpochMillis(a.timestamp) - DateTime.toEpochMillis(b.timestamp) || (a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : 0))

/** The events `jobs show` prints by default: a job's whole history, unless it is a huge one. */
export const SHOW_EVENTS = 100_000
const MAX_EVENTS_LIMIT = 1_000_000

const eventsLimitOption = Options.text("events-limit").pipe(
  Options.withPseudoName("n"),
  Options.withDescription(`Show at most this many of the job's events, the oldest (default ${SHOW_EVENTS}); more are announced`),
  Options.optional
)

/** The runs `jobs show` prints by default, the oldest (a job's runs are unbounded: each retry, resume and release makes one). */
export const SHOW_RUNS = DETAIL_RUNS

/** The node executions of each run `jobs show` prints by default, the first in sequence order. */
export const SHOW_NODES = DETAIL_NODES

const runsLimitOption = Options.text("runs-limit").pipe(
  Options.withPseudoName("n"),
  Options.withDescription(`Show at most this many of the job's workflow runs, the oldest (default ${SHOW_RUNS}); more are announced`),
  Options.optional
)

const nodesLimitOption = Options.text("nodes-limit").pipe(
  Options.withPseudoName("n"),
  Options.withDescription(`Show at most this many node executions of each run, the first (default ${SHOW_NODES}); more are announced`),
  Options.optional
)

/** A limit option's value: a whole number from 1 to 1,000,000, or `fallback` when not given. */
const shownAtMost = (option: Option.Option<string>, name: string, fallback: number) =>
  Effect.map(Parse.optional(option, Parse.integer(name, 1, MAX_EVENTS_LIMIT)), Option.getOrElse(() => fallback))

/**
 * How to read the job's events `jobs show` cut off: the events listing after
 * the store's cursor at the last one shown (none shown: from the start). A
 * `--since` at its instant would repeat every event shown in that millisecond.
 */
const restOfEvents = (database: Database, jobId: string, after: string | null) =>
  ["ai-jobs", "events", ...database.again.words, "--job", jobId, ...(after === null ? [] : ["--cursor", after])].join(" ")

const showCommand = Command.make(
  "show",
  {
    database: databaseOption,
    jobId: jobIdArgument,
    eventsLimit: eventsLimitOption,
    runsLimit: runsLimitOption,
    nodesLimit: nodesLimitOption,
    json: jsonOption
  },
  (options) =>
    Effect.gen(function*() {
      const ref = yield* parseJobRef("job id")(options.jobId)
      const limit = yield* shownAtMost(options.eventsLimit, "--events-limit", SHOW_EVENTS)
      const runsLimit = yield* shownAtMost(options.runsLimit, "--runs-limit", SHOW_RUNS)
      const nodesLimit = yield* shownAtMost(options.nodesLimit, "--nodes-limit", SHOW_NODES)
      const database = yield* resolve(options.database)
      const detail = yield* Effect.gen(function*() {
        const store = yield* JobStore
        const jobId = yield* resolveJobRef("job id")(ref)
        // One committed state: the job, its runs and its events agree.
        return yield* store.readConsistent(Effect.gen(function*() {
          const job = yield* sayingWhenPruned(store, jobId, store.getJob(jobId))
          const shownRuns = yield* firstRuns(store, jobId, runsLimit)
          const runs = yield* Effect.forEach(shownRuns.items, (run) =>
            // Large payloads stay in the database: the JSON refers to `jobs node` for them (R14).
            Effect.map(firstNodeSummaries(store, run.id, nodesLimit), (nodes) => ({ run, nodes: nodes.items, nodesCut: nodes.next !== null })))
          const own = yield* collectEvents({ job_id: jobId }, limit)
          // A run recovery stalled after its job had left `running` (a legacy database's half-finished
          // move) has an event that names the run alone: shown with the run it explains. Only those are
          // read (`job_id: null`, in the statement): a run's own events are the job's, already read above.
          const ofRunsAlone = yield* Effect.forEach(runs, ({ run }) => collectEvents({ workflow_run_id: run.id, job_id: null }, limit))
          const merged = inRecordedOrder([...own.items, ...ofRunsAlone.flatMap((found) => found.items)])
          // The oldest `limit` of the whole history: every event not read is newer than the last read.
          const truncated = own.truncated || ofRunsAlone.some((found) => found.truncated) || merged.length > limit
          const events = merged.slice(0, limit)
          // Events of its runs alone can push some of the job's own off the end: its cursor is then
          // the one after the last own event shown, read again (a legacy database's rare case).
          const ownShown = events.filter((event) => event.job_id === jobId).length
          const after = ownShown === own.items.length
            ? own.next_cursor
            : ownShown === 0
            ? null
            : (yield* collectEvents({ job_id: jobId }, ownShown)).next_cursor
          const rest = !truncated
            ? undefined
            : after !== null || ownShown < own.items.length
            ? restOfEvents(database, jobId, after)
            // Only events of its runs alone were cut: the whole history holds them.
            : ["ai-jobs", "jobs", "show", jobId, ...database.again.words, "--events-limit", Math.min(merged.length, MAX_EVENTS_LIMIT)].join(" ")
          const evidenceMissing = yield* missingEvidenceOf(store, job, shownRuns.items)
          return { job, runs, runsCut: shownRuns.next !== null, events, truncated, rest, evidenceMissing }
        }))
      }).pipe(Effect.provide(recorderLayer(database, { migrate: false, create: false, readonly: true })))
      const rest = detail.rest
      const note = passwordNote(database)
      if (!options.json) {
        yield* Console.log(jobDetail(detail.job, detail.runs, detail.events, { runsCut: detail.runsCut, evidenceMissing: detail.evidenceMissing }))
      } else {
        yield* Console.log(json({
          job: encodeJob(detail.job),
          runs: detail.runs.map(({ nodes, nodesCut, run }) => ({
            ...encodeRun(run),
            nodes: nodes.map((node) => encodeNodeSummary(node, nodeOfRunCommand(database, node))),
            nodes_truncated: nodesCut
          })),
          runs_truncated: detail.runsCut,
          events: detail.events.map(encodeEvent),
          events_truncated: detail.truncated,
          evidence_missing: encodeEvidenceMissing(detail.evidenceMissing),
          ...(rest === undefined ? {} : { events_rest: rest, ...(note === undefined ? {} : { events_rest_note: note }) })
        }))
      }
      // On stderr, as `events` announces a cut listing, so JSON on stdout stays clean.
      if (detail.runsCut) {
        yield* Console.error(`(showing the oldest ${detail.runs.length} workflow runs of this job; more follow: show more with --runs-limit)`)
      }
      for (const { nodes, nodesCut, run } of detail.runs) {
        if (!nodesCut) continue
        yield* Console.error(
          `(showing the first ${nodes.length} node executions of run ${run.id}; more follow: show more with --nodes-limit, ` +
            `or page through them with GET /runs/${run.id}/nodes?cursor=${nodes.at(-1)!.sequence} of ai-jobs serve)`
        )
      }
      if (rest !== undefined) {
        yield* Console.error(`(showing the oldest ${detail.events.length} events of this job; more match: read the rest with ${rest}${note === undefined ? "" : `; ${note}`})`)
      }
    })
).pipe(Command.withDescription(
  "Show one job: its fields, workflow runs with node history (the oldest runs and each run's first nodes, a cut said so), and Flight Recorder events (its own, and those naming one of its runs alone). A job id that names no job exits 1."
))

/** The commands under `jobs`, in the order help lists them. */
export const jobsSubcommands = [listCommand, showCommand, nodeCommand, ...actionCommands] as const

/** The `jobs` group. */
export const jobsCommand = Command.make("jobs").pipe(
  Command.withDescription("Inspect jobs (a node in full too), and act on them: resume, rework, retry, fail, cancel, pin, unpin."),
  Command.withSubcommands(jobsSubcommands)
)
