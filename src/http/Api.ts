/**
 * The HTTP API, schema first: this one definition gives the server
 * (`HttpApi.layer`), a typed client (`HttpApiClient.make(Api)`) and the
 * OpenAPI document (`OpenApi.fromApi(Api)`).
 *
 * Routes follow the reference's (`POST /jobs`, `GET /jobs`, `GET /jobs/:id`,
 * `GET /events`), plus the operator actions, the pages of a job's runs and
 * a run's nodes, and `GET /health`. Every route except `/health` needs the
 * bearer token.
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApiSecurity from "@effect/platform/HttpApiSecurity"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"
import { AiJob, JobRequest } from "../domain/AiJob.js"
import { EventType } from "../domain/EventRecord.js"
import { EventId, JobId, TraceId, WorkflowRunId } from "../domain/Ids.js"
import { JobKind } from "../domain/JobKind.js"
import { JobState } from "../domain/JobState.js"
import { StoredFlightEvent } from "../domain/LegacyFlightEvent.js"
import { EvidenceMissing } from "../domain/RetentionHorizon.js"
import { Text } from "../domain/Text.js"
import { Timestamp, TimestampBoundRoundedUp } from "../domain/Timestamp.js"
import { NodeExecution, WorkflowRun } from "../domain/WorkflowRun.js"
import { MAX_REASON_CHARACTERS } from "../internal/jobs/transitionOptions.js"
import { packageVersion } from "../internal/packageVersion.js"
import {
  AlreadyExistsError,
  CapabilityDeniedError,
  CorruptRowError,
  DecodeFailureError,
  EscalationDeniedError,
  HealthFields,
  IllegalTransitionError,
  LengthRequiredError,
  MalformedBodyError,
  NotFoundError,
  PayloadTooLargeError,
  RecoveryFailedError,
  StorageErrorError,
  UnauthorizedError,
  UnhealthyError,
  UnknownProfileError
} from "./Errors.js"

/** Checks the bearer token of every request it guards (constant-time); 401 otherwise. */
export class Authorization extends HttpApiMiddleware.Tag<Authorization>()("@handshake/ai-job-model/http/Authorization", {
  failure: UnauthorizedError,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

/**
 * Reads a request body up to the configured size (413 past it, 411 without a
 * length) and checks it is JSON by its Content-Type and its text (400
 * `MalformedBody` otherwise), not absurdly deep and without a key given twice
 * in one object (400 `DecodeFailure`). It provides the request the route
 * reads: the body parsed once, by this check.
 */
export class BodyLimit extends HttpApiMiddleware.Tag<BodyLimit>()("@handshake/ai-job-model/http/BodyLimit", {
  failure: Schema.Union(PayloadTooLargeError, LengthRequiredError, MalformedBodyError, DecodeFailureError),
  provides: HttpServerRequest.HttpServerRequest
}) {}

/**
 * `a,b,c` in a query string, each item decoded by `item` once the spaces
 * around it are trimmed (`queued, failed`, as the CLI's `--state` takes it);
 * an empty item (`queued,` or `queued,%20`) is refused by `item`.
 */
const CommaList = <A, I extends string>(item: Schema.Schema<A, I>): Schema.Schema<ReadonlyArray<A>, string> =>
  Schema.compose(Schema.split(","), Schema.Array(Schema.compose(Schema.Trim, item, { strict: false })), { strict: false })

/**
 * Page size in a query string: a whole number from 1 to 1000, in decimal
 * digits as the CLI's `--limit` (a bare number parse would also take `0x10`,
 * `1e3` or ` 5`).
 */
const LIMIT_DESCRIPTION = "Page size, 1 to 1000 (default 100)"
const Limit = Schema.String.pipe(
  Schema.pattern(/^[0-9]+$/, {
    message: () => "Expected a page size in decimal digits, e.g. 100",
    // The document states the range as a whole number's, which a string's pattern cannot; a client sends it in decimal digits.
    jsonSchema: { type: "integer", minimum: 1, maximum: 1000, description: LIMIT_DESCRIPTION }
  }),
  Schema.compose(Schema.NumberFromString),
  Schema.int(),
  Schema.between(1, 1000)
).annotations({ description: LIMIT_DESCRIPTION })

/** Listing order. */
const Order = Schema.Literal("asc", "desc")

/** The `next_cursor` of a previous page; opaque. */
const Cursor = Schema.String.annotations({ description: "The next_cursor of the previous page" })

/** A node's sequence number as text: decimal digits, no leading zero, up to 2^53 − 1; `what` names it in a refusal. */
const sequenceDigits = (what: string) =>
  Schema.String.pipe(
    Schema.pattern(/^(0|[1-9][0-9]*)$/, { message: () => `Expected ${what}: a sequence number in decimal digits` }),
    Schema.filter((text) => Number.isSafeInteger(Number(text)), { message: () => `Expected ${what}: a sequence number up to 2^53 - 1` })
  )

/**
 * The cursor of a run's node executions: a `nodes_next_cursor` (the sequence
 * number of the last node read, in decimal digits).
 */
const NodeCursor = sequenceDigits("a nodes_next_cursor").annotations({ description: "The nodes_next_cursor of the job's detail or of the previous page" })

/** The cursor of a job's runs: a `runs_next_cursor` (the id of the last run read). */
const RunCursor = Schema.compose(WorkflowRunId, Schema.String, { strict: false }).annotations({
  description: "The runs_next_cursor of the job's detail or of the previous page"
})

/** A page of `item`s and the cursor to the next one (null on the last page). */
const Page = <A, I>(item: Schema.Schema<A, I>) =>
  Schema.Struct({ items: Schema.Array(item), next_cursor: Schema.NullOr(Schema.String) })

/**
 * Request bodies and the lists' queries refuse a key they do not name, at
 * every level, every problem reported, not only the first (400
 * `HttpApiDecodeError`, an issue `is unexpected` at the key's path). The
 * platform decodes bodies with Schema's default, which drops such a key: a
 * misspelt `max_attempt` or `backoff.initail` would be stored as its default,
 * and a misspelt filter (`?stat=failed`) would list everything.
 * (`Schema.encodedSchema` also drops the domain schemas' own annotations.)
 */
const refuseUnknownKeys = { parseOptions: { onExcessProperty: "error", errors: "all" } } as const

/** Query of `GET /jobs`. Lists are comma-separated. */
export const JobsQuery = Schema.Struct({
  state: Schema.optional(CommaList(JobState)),
  job_kind: Schema.optional(CommaList(JobKind)),
  created_after: Schema.optional(Timestamp),
  created_before: Schema.optional(TimestampBoundRoundedUp),
  trace_id: Schema.optional(TraceId),
  order: Schema.optional(Order).annotations({ description: "desc (default): newest first" }),
  limit: Schema.optional(Limit),
  cursor: Schema.optional(Cursor)
}).annotations(refuseUnknownKeys)

/** Query of `GET /events`: the Flight Recorder filters (R10). Time range is [since, until). */
export const EventsQuery = Schema.Struct({
  event_id: Schema.optional(EventId),
  job_id: Schema.optional(JobId),
  trace_id: Schema.optional(TraceId),
  workflow_run_id: Schema.optional(WorkflowRunId),
  type: Schema.optional(CommaList(EventType)),
  since: Schema.optional(TimestampBoundRoundedUp),
  until: Schema.optional(TimestampBoundRoundedUp),
  order: Schema.optional(Order).annotations({ description: "asc (default): oldest first" }),
  limit: Schema.optional(Limit),
  cursor: Schema.optional(Cursor)
}).annotations(refuseUnknownKeys)

/** Query of `GET /runs/:workflow_run_id/nodes`. */
export const NodesQuery = Schema.Struct({
  limit: Schema.optional(Limit),
  cursor: Schema.optional(NodeCursor)
}).annotations(refuseUnknownKeys)

/** A node's place in its run, in `GET /runs/:workflow_run_id/nodes/:sequence`: decimal digits, as a node cursor. */
const NodeSequence = Schema.compose(sequenceDigits("a node's sequence"), Schema.NumberFromString, { strict: false }).annotations({
  description: "The node's sequence number in its run (0, 1, 2, …)"
})

/** Query of `GET /jobs/:job_id/runs`. */
export const RunsQuery = Schema.Struct({
  limit: Schema.optional(Limit),
  cursor: Schema.optional(RunCursor)
}).annotations(refuseUnknownKeys)

/** A page of jobs. */
export const JobPage = Page(AiJob).annotations({ identifier: "JobPage" })

/** A page of Flight Recorder events, each exactly as recorded. */
export const EventPage = Page(StoredFlightEvent).annotations({ identifier: "EventPage" })

/** A page of a job's workflow runs, oldest first. */
export const RunPage = Page(WorkflowRun).annotations({ identifier: "RunPage" })

/**
 * A payload a job's detail or a page of nodes left out, being longer than
 * 4096 bytes of JSON text: its size, and the route that gives its node in full.
 */
export const PayloadRef = Schema.Struct({
  bytes: Schema.NonNegativeInt.annotations({ description: "The length of the payload's stored JSON text, in bytes" }),
  href: Schema.String.annotations({ description: "GET this path for the node in full: /runs/:workflow_run_id/nodes/:sequence" })
}).annotations({ identifier: "PayloadRef" })

/**
 * A node execution in a job's detail or a page of nodes: each payload inline
 * when its JSON text is at most 4096 bytes; a longer one is null, with
 * `input_payload_ref` / `output_payload_ref` saying so (null when the payload
 * is inline or absent).
 */
export const NodeSummary = Schema.extend(
  NodeExecution,
  Schema.Struct({
    input_payload_ref: Schema.NullOr(PayloadRef),
    output_payload_ref: Schema.NullOr(PayloadRef)
  })
).annotations({ identifier: "NodeSummary" })

/** A page of a run's node executions, in sequence order, large payloads as references. */
export const NodePage = Page(NodeSummary).annotations({ identifier: "NodePage" })

/** A workflow run with its first node executions in sequence order (up to 1000), large payloads as references. */
export const RunWithNodes = Schema.extend(
  WorkflowRun,
  Schema.Struct({
    nodes: Schema.Array(NodeSummary),
    /** Set when the run has more than 1000 nodes: continue with `GET /runs/:workflow_run_id/nodes?cursor=…`. */
    nodes_next_cursor: Schema.NullOr(Schema.String)
  })
).annotations({ identifier: "RunWithNodes" })

/**
 * `GET /jobs/:job_id`: the job, its runs (oldest first, up to 100) with their
 * nodes (up to 1000 each), and its events (oldest first, up to 1000).
 */
export const JobDetail = Schema.Struct({
  job: AiJob,
  runs: Schema.Array(RunWithNodes),
  /** Set when the job has more than 100 runs: continue with `GET /jobs/:job_id/runs?cursor=…`. */
  runs_next_cursor: Schema.NullOr(Schema.String),
  events: Schema.Array(StoredFlightEvent),
  /** Set when the job has more than 1000 events: continue with `GET /events?job_id=…&cursor=…`. */
  events_next_cursor: Schema.NullOr(Schema.String),
  /** Set when the job started before the newest cutoff the retention policy applied: its events before then may be gone (FR-EVT-004). */
  evidence_missing: Schema.NullOr(EvidenceMissing)
}).annotations({ identifier: "JobDetail" })


/**
 * The body of `POST /jobs`: a `JobRequest` as a library caller writes it
 * (defaults optional; `capability_profile_id` may only narrow the policy's profile). Its shape is checked here; every rule of the domain
 * (text, ids, depth, sizes) is checked by `Jobs.submit` itself, which answers
 * `DecodeFailure` exactly as it does in process.
 */
export const NewJobRequest = Schema.encodedSchema(JobRequest).annotations({
  identifier: "NewJobRequest",
  description: "A job to queue: kind, protocol, profiles, modes; optional entity refs, planned operations, inputs, ids",
  ...refuseUnknownKeys
})

/**
 * An action's reason as the document states it: `Text` of at most
 * `MAX_REASON_CHARACTERS` characters (JSON Schema's `maxLength` counts code
 * points, as the bound does). The bound itself is the move's check, which
 * answers 400 `DecodeFailure` naming `reason` as in process; checking it here
 * too would answer `HttpApiDecodeError` instead, so this filter passes all.
 */
const ActionReason = Text.pipe(Schema.filter(() => true, { jsonSchema: { maxLength: MAX_REASON_CHARACTERS } }))

/** The body of an operator action; may be empty. */
const ActionRequest = Schema.transform(
  Schema.NullOr(Schema.Struct({ reason: Schema.optional(ActionReason) }).annotations(refuseUnknownKeys)),
  Schema.Struct({ reason: Schema.optional(Text) }),
  { strict: true, decode: (body) => body ?? {}, encode: (body) => body }
).annotations({ identifier: "ActionRequest", description: "Why: stored as the job's status_reason and in its event" })

const jobPath = Schema.Struct({ job_id: JobId })

/** One operator action on a job, with its `human` event: a pin change, which any job may have. */
const action = <const Name extends string>(name: Name, summary: string) =>
  HttpApiEndpoint.post(name, `/jobs/:job_id/${name}`)
    .setPath(jobPath)
    .setPayload(ActionRequest)
    .addSuccess(AiJob)
    .addError(NotFoundError)
    .addError(DecodeFailureError)
    .annotate(OpenApi.Summary, summary)
    // The body may be left out (ActionRequest takes none as {}); the platform marks every payload required.
    .annotate(OpenApi.Transform, (operation) => ({ ...operation, requestBody: { ...operation["requestBody"], required: false } }))

/**
 * A guarded transition: an action the job's state may refuse (409
 * IllegalTransition). Pin and unpin are not: `Jobs.pin` cannot fail so.
 */
const transition = <const Name extends string>(name: Name, summary: string) =>
  action(name, summary).addError(IllegalTransitionError)

/**
 * A transition into `running` under a new workflow run, offered to worker
 * pools (resume, rework): the capability policy checks the job again, and a
 * refused one ends failed (issue 13), hence the policy's refusals.
 */
const begin = <const Name extends string>(name: Name, summary: string) =>
  transition(name, summary)
    .addError(EscalationDeniedError)
    .addError(CapabilityDeniedError)
    .addError(UnknownProfileError)

/** `GET /health`: open to all, no token. */
export class HealthGroup extends HttpApiGroup.make("health").add(
  HttpApiEndpoint.get("health", "/health")
    .addSuccess(Schema.Struct(HealthFields).annotations({ identifier: "Health" }))
    .addError(UnhealthyError)
    .annotate(OpenApi.Summary, "Database reachable, schema version, startup recovery finished")
) {}

/** Jobs: submit, list, show, and the operator actions. */
export class JobsGroup extends HttpApiGroup.make("jobs")
  .add(
    HttpApiEndpoint.post("submit", "/jobs")
      .setPayload(NewJobRequest)
      .addSuccess(AiJob, { status: 201 })
      .addError(EscalationDeniedError)
      .addError(CapabilityDeniedError)
      .addError(UnknownProfileError)
      .addError(AlreadyExistsError)
      .addError(DecodeFailureError)
      .addError(RecoveryFailedError)
      .annotate(OpenApi.Summary, "Queue a job, after the same capability check as Jobs.submit")
  )
  .add(
    HttpApiEndpoint.get("list", "/jobs")
      .setUrlParams(JobsQuery)
      .addSuccess(JobPage)
      .addError(DecodeFailureError)
      .annotate(OpenApi.Summary, "Jobs, newest first, filtered by state, kind, creation time and trace id")
  )
  .add(
    HttpApiEndpoint.get("get", "/jobs/:job_id")
      .setPath(jobPath)
      .addSuccess(JobDetail)
      .addError(NotFoundError)
      .addError(DecodeFailureError)
      .annotate(OpenApi.Summary, "A job with its workflow runs, node executions and Flight Recorder events")
  )
  .add(
    HttpApiEndpoint.get("runs", "/jobs/:job_id/runs")
      .setPath(jobPath)
      .setUrlParams(RunsQuery)
      .addSuccess(RunPage)
      .addError(NotFoundError)
      .addError(DecodeFailureError)
      .annotate(OpenApi.Summary, "A job's workflow runs, oldest first, a page at a time (the detail shows the first 100)")
  )
  .add(transition("cancel", "Cancel a job that has not ended"))
  .add(transition("retry", "Queue a failed job again (never a poisoned one)"))
  .add(transition("fail", "Fail a job that has not ended, the reason as its error (then retry queues it for the worker pools)"))
  .add(begin("resume", "Run a stalled job again under a new workflow run, if the capability policy still admits it: the run is offered to worker pools, and the first pool of its kind takes it (at once on PostgreSQL; at its next poll on SQLite)"))
  .add(begin("rework", "Run a job awaiting the user again (rework, after the user's input) under a new workflow run, if the capability policy still admits it: the run is offered to worker pools, as a resume's is"))
  .add(action("pin", "Keep a job from pruning"))
  .add(action("unpin", "Let pruning delete a job again"))
  .middleware(BodyLimit)
  .middleware(Authorization) {}

/** The Flight Recorder. */
export class EventsGroup extends HttpApiGroup.make("events").add(
  HttpApiEndpoint.get("list", "/events")
    .setUrlParams(EventsQuery)
    .addSuccess(EventPage)
    .addError(DecodeFailureError)
    .annotate(OpenApi.Summary, "Flight Recorder events by event id, job id, trace id, run, type and time")
).middleware(Authorization) {}

/** Workflow runs: a run's node executions. */
export class RunsGroup extends HttpApiGroup.make("runs").add(
  HttpApiEndpoint.get("nodes", "/runs/:workflow_run_id/nodes")
    .setPath(Schema.Struct({ workflow_run_id: WorkflowRunId }))
    .setUrlParams(NodesQuery)
    .addSuccess(NodePage)
    .addError(NotFoundError)
    .addError(DecodeFailureError)
    .annotate(OpenApi.Summary, "A run's node executions in sequence order, a page at a time (the job's detail shows the first 1000); payloads over 4096 bytes as references")
).add(
  HttpApiEndpoint.get("node", "/runs/:workflow_run_id/nodes/:sequence")
    .setPath(Schema.Struct({ workflow_run_id: WorkflowRunId, sequence: NodeSequence }))
    .addSuccess(NodeExecution)
    .addError(NotFoundError)
    .addError(DecodeFailureError)
    .annotate(OpenApi.Summary, "One node execution in full, payloads and all (a job's detail or a page of nodes refers here for a payload it left out)")
).middleware(Authorization) {}

/** The whole API. Every route can fail with a database error (500). */
export class Api extends HttpApi.make("ai-jobs")
  .add(HealthGroup)
  .add(JobsGroup)
  .add(EventsGroup)
  .add(RunsGroup)
  .addError(StorageErrorError)
  .addError(CorruptRowError)
  .annotate(OpenApi.Title, "Handshake AI Jobs")
  .annotate(OpenApi.Version, packageVersion)
  .annotate(
    OpenApi.Description,
    "Durable, auditable AI jobs: submit, inspect and operate jobs and read the Flight Recorder. " +
      "Errors carry their _tag and a message; bad request shapes fail with HttpApiDecodeError (400)."
  ) {}
