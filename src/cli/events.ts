/** `ai-jobs events`: the Flight Recorder as a timeline (or JSON), filtered by job, trace, type and time. */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { EventTypes } from "../domain/EventRecord.js"
import { EventId, TraceId, WorkflowRunId } from "../domain/Ids.js"
import { databaseOption, recorderLayer, resolve } from "./database.js"
import { encodeEvent, timeline } from "./format.js"
import { parseJobRef, resolveJobRef } from "./jobRef.js"

import { filter, filterOption, given, limitOption, parseLimit, printListing, refuseBadCursor } from "./listing.js"
import * as Parse from "./parse.js"
import { collectEvents } from "./queries.js"

/** Abbreviations are looked up among stored jobs, and events outlive their job (a denied submission, pruning). */
const EVENTS_OF_UNSTORED_JOBS = " among the stored jobs; the events of a job not stored (denied, or pruned) take its whole id"

/** Lists events oldest first (`--order newest` for the other way), with the filters `GET /events` has. */
export const eventsCommand = Command.make(
  "events",
  {
    database: databaseOption,
    job: filterOption("job", "job-id", "Only events of this job: its id, its start (4+ hex digits) or its short id (last 8 hex digits)"),
    trace: filterOption("trace", "trace-id", "Only events of this trace id"),
    run: filterOption("run", "run-id", "Only events of this workflow run id"),
    event: filterOption("event", "event-id", "Only the event of this id"),
    type: filterOption("type", "type,...", `Only events of these types (comma-separated, or the option repeated): ${EventTypes.join(", ")}`),
    since: filterOption("since", "time|duration", "Only events since a time (2026-01-19T10:00:00Z) or that long ago (2h, 7d)"),
    until: filterOption("until", "time|duration", "Only events before a time (2026-01-19T10:00:00Z) or older than a duration (2h, 7d)"),
    order: filterOption("order", "oldest|newest", "Oldest events first (the default) or newest first"),
    cursor: filterOption(
      "cursor",
      "cursor",
      "Only events after this cursor, in its order: what a cut listing or `jobs show` prints to read on (a `next_cursor` of GET /events too)"
    ),
    limit: limitOption,
    json: Options.boolean("json").pipe(Options.withDescription("Print the events as JSON, exactly as recorded"))
  },
  (options) =>
    Effect.gen(function*() {
      const job = yield* Parse.optional(options.job, parseJobRef("--job"))
      const trace = yield* Parse.optional(options.trace, Parse.uuid("--trace", TraceId))
      const run = yield* Parse.optional(options.run, Parse.uuid("--run", WorkflowRunId))
      const event = yield* Parse.optional(options.event, Parse.uuid("--event", EventId))
      const types = yield* Parse.optional(options.type, Parse.list("--type", Parse.eventType))
      const since = yield* Parse.optional(options.since, Parse.since("--since"))
      // [since, until): an event at `until` is left out, as GET /events does.
      const until = yield* Parse.optional(options.until, Parse.since("--until"))
      const order = Option.getOrElse(yield* Parse.optional(options.order, Parse.order("--order")), () => "asc" as const)
      const limit = yield* parseLimit(options.limit)
      const database = yield* resolve(options.database)
      const { events, jobId } = yield* Effect.gen(function*() {
        const jobId = yield* Parse.optional(job, resolveJobRef("--job", EVENTS_OF_UNSTORED_JOBS))
        const events = yield* collectEvents(
          {
            ...filter("job_id", jobId),
            ...filter("trace_id", trace),
            ...filter("workflow_run_id", run),
            ...filter("event_id", event),
            ...filter("types", types),
            ...filter("since", since),
            ...filter("until", until),
            ...filter("cursor", options.cursor),
            order
          },
          limit
        ).pipe(refuseBadCursor(order))
        return { events, jobId }
      }).pipe(Effect.provide(recorderLayer(database, { migrate: false, create: false, readonly: true })))
      yield* printListing(events, {
        json: options.json,
        limit,
        noun: "events",
        order,
        command: ["ai-jobs", "events"],
        database,
        filters: [
          ...given("--job", jobId),
          ...given("--trace", trace),
          ...given("--run", run),
          ...given("--event", event),
          ...given("--type", Option.map(types, (list) => list.join(","))),
          ...given("--since", Option.map(since, DateTime.formatIso)),
          ...given("--until", Option.map(until, DateTime.formatIso)),
          ...(order === "desc" ? ["--order", "newest"] : [])
        ],
        encode: encodeEvent,
        table: (items) => timeline(items)
      })
    })
).pipe(Command.withDescription("List Flight Recorder events, oldest first (--order newest for the other way)."))
