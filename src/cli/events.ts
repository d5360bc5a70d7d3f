/** `ai-jobs events`: the Flight Recorder as a timeline (or JSON), filtered by job, trace, type and time. */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { DecodeFailure } from "../domain/Errors.js"
import { EventTypes } from "../domain/EventRecord.js"
import { EventId, TraceId, WorkflowRunId } from "../domain/Ids.js"
import { databaseOption, recorderLayer, resolve } from "./database.js"
import { BadInput } from "./errors.js"
import { encodeEvent, timeline } from "./format.js"
import { parseJobRef, resolveJobRef } from "./jobRef.js"

/** Abbreviations are looked up among stored jobs, and events outlive their job (a denied submission, pruning). */
const EVENTS_OF_UNSTORED_JOBS = " among the stored jobs; the events of a job not stored (denied, or pruned) take its whole id"
import { filter, filterOption, limitOption, parseLimit, printListing } from "./listing.js"
import * as Parse from "./parse.js"
import { collectEvents } from "./queries.js"

/**
 * The store's refusal of `--cursor`, in the CLI's terms. Of the two orders, a
 * cursor refused for its order continues the one not asked for.
 */
const refusedCursor = (error: DecodeFailure, asked: "asc" | "desc"): string => {
  const [issue] = error.issues
  const its = asked === "asc" ? "newest" : "oldest"
  return issue?.path === "order"
    ? `bad --cursor: it continues a listing ${its} first; give --order ${its} with it`
    : `bad --cursor: ${issue?.message ?? error.message}`
}

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
      "Only events after this cursor, in its order: what `jobs show` prints to read the rest of a job's events (a `next_cursor` of GET /events too)"
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
      const events = yield* Effect.gen(function*() {
        const jobId = yield* Parse.optional(job, resolveJobRef("--job", EVENTS_OF_UNSTORED_JOBS))
        return yield* collectEvents(
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
        ).pipe(Effect.catchIf(
          (error): error is DecodeFailure => error._tag === "DecodeFailure" && error.subject === "cursor",
          (error) => Effect.fail(new BadInput({ message: refusedCursor(error, order) }))
        ))
      }).pipe(Effect.provide(recorderLayer(database, { migrate: false, create: false, readonly: true })))
      yield* printListing(events, {
        json: options.json,
        limit,
        noun: "events",
        order,
        encode: encodeEvent,
        table: (items) => timeline(items)
      })
    })
).pipe(Command.withDescription("List Flight Recorder events, oldest first (--order newest for the other way)."))
