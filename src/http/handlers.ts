/**
 * The API's handlers: each route calls the library's services, so the HTTP
 * surface applies exactly the rules the library does (capability policy on
 * submit, guarded transitions with their `human` events for operator
 * actions). Handlers only translate between the wire and the services.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { JobId, WorkflowRunId } from "../domain/Ids.js"
import { DecodeFailure } from "../domain/Errors.js"
import type { NodeSummary } from "../domain/WorkflowRun.js"
import { FlightRecorder } from "../FlightRecorder.js"
// DETAIL_RUNS and DETAIL_NODES: more are paged through `GET /jobs/:id/runs` and `GET /runs/:id/nodes`.
import {
  DETAIL_NODES,
  DETAIL_RUNS,
  firstNodeSummaries,
  type FirstOf,
  firstRuns,
  nodeInFull,
  withPayloadRefs
} from "../internal/firstOfRuns.js"
import { missingEvidenceOf } from "../internal/missingEvidence.js"
import { packageVersion } from "../internal/packageVersion.js"
import { Jobs, type TransitionOptions } from "../Jobs.js"
import { RecoveryGate } from "../Recovery.js"
import { JobStore } from "../store/JobStore.js"
import { Api, EventsQuery, JobsQuery, NodesQuery, RunsQuery } from "./Api.js"
import { createdAnswer } from "./createdAnswer.js"
import { refusedRequest } from "./decodeErrors.js"
import { Unhealthy } from "./Errors.js"
import { sharedCheck } from "./sharedCheck.js"

/** How long a health check waits for the database before calling it unreachable. */
const HEALTH_TIMEOUT = "5 seconds"

/** The most events `GET /jobs/:id` returns inline; more are paged through `GET /events`. */
const DETAIL_EVENTS = 1000

/** A page's size when the query gives none, as the other listings'. */
const PAGE_SIZE = 100

/** A run's nodes cursor as the API gives it: the last node's sequence, in decimal digits. */
const nodeCursor = (nodes: FirstOf<{ readonly sequence: number }, number>): string | null => nodes.next === null ? null : String(nodes.next)

/** Where a node is read in full: `GET /runs/:workflow_run_id/nodes/:sequence`. */
const nodeHref = (node: NodeSummary) => ({ href: `/runs/${node.workflow_run_id}/nodes/${node.sequence}` })

/** `{ [key]: value }` when the value is present, `{}` otherwise (optional fields stay absent, never undefined). */
const present = <K extends string, A>(key: K, value: A | undefined): { readonly [P in K]?: A } =>
  (value === undefined ? {} : { [key]: value }) as { readonly [P in K]?: A }

/** Options of an operator action: actor `human`, and the reason when one was given. */
const byOperator = (payload: { readonly reason?: string | undefined }): TransitionOptions => ({
  actor: "human",
  ...present("reason", payload.reason)
})

/**
 * An operator's resume or rework: the new run is offered to worker pools (no
 * process of the API runs it), and the answer is the job.
 */
const begunBy = (
  begin: Jobs["Type"]["resume" | "rework"],
  jobId: JobId,
  payload: { readonly reason?: string | undefined }
) => Effect.map(begin(jobId, { ...byOperator(payload), handTo: "workers" }), (claim) => claim.job)

/**
 * Refuses a `__proto__` query key as `query` refuses any key it does not
 * name. The platform copies the query into a plain object before decoding
 * it, where that key sets the prototype instead: `?__proto__=x` was dropped,
 * and the whole listing answered. The router's own record keeps it as a key.
 */
const refuseProtoKey = <A, I>(query: Schema.Schema<A, I>) =>
  Effect.flatMap(HttpServerRequest.ParsedSearchParams, (params) => {
    if (!Object.hasOwn(params, "__proto__")) return Effect.void
    const only: Record<string, unknown> = Object.create(null)
    only["__proto__"] = params["__proto__"]
    return Either.match(Schema.decodeUnknownEither(query)(only), {
      onLeft: refusedRequest,
      onRight: () => Effect.void
    })
  })

/** `GET /health`: 200 when the database answers and startup recovery has finished, 503 with the same report otherwise. */
export const HealthLive = HttpApiBuilder.group(Api, "health", (handlers) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const gate = yield* RecoveryGate
    // Concurrent calls share one database check: see sharedCheck.
    const check = sharedCheck(Effect.option(store.schemaVersion), yield* Effect.scope)
    // Each call waits for the shared check at most HEALTH_TIMEOUT. A timeout around the query itself
    // waited for the query to end once interrupted: against a blocked PostgreSQL, /health answered
    // after the statement timeout (60 s), not after 5 s (found by a regression probe). Giving up the
    // wait leaves the check running, still shared, so a hung database holds one connection, not one a call.
    const schemaVersion = check.pipe(Effect.timeout(HEALTH_TIMEOUT), Effect.option, Effect.map(Option.flatten))
    return handlers.handle("health", () =>
      Effect.gen(function*() {
        const version = yield* schemaVersion
        const report = {
          database: Option.isSome(version) ? "reachable" as const : "unreachable" as const,
          schema_version: Option.getOrNull(version),
          recovery: yield* gate.status,
          version: packageVersion
        }
        if (report.database === "reachable" && report.recovery === "finished") return { status: "ok" as const, ...report }
        return yield* new Unhealthy({ status: "unavailable", ...report })
      }))
  }))

/** Jobs: submit through `Jobs.submit` (capability policy and all), list, show, and the operator actions. */
export const JobsLive = HttpApiBuilder.group(Api, "jobs", (handlers) =>
  Effect.gen(function*() {
    const jobs = yield* Jobs
    const store = yield* JobStore
    const recorder = yield* FlightRecorder

    const list = (query: typeof JobsQuery.Type) =>
      jobs.list({
        // Newest first by default; a cursor continues in the order of the page that gave it.
        ...present("order", query.order ?? (query.cursor === undefined ? "desc" : undefined)),
        ...present("states", query.state),
        ...present("kinds", query.job_kind),
        ...present("created_after", query.created_after),
        ...present("created_before", query.created_before),
        ...present("trace_id", query.trace_id),
        ...present("limit", query.limit),
        ...present("cursor", query.cursor)
      })

    const detail = (jobId: JobId) =>
      // One committed state: the job, its runs and its events agree.
      store.readConsistent(Effect.gen(function*() {
        const job = yield* jobs.get(jobId)
        const runs = yield* firstRuns(store, jobId, DETAIL_RUNS)
        const withNodes = yield* Effect.forEach(runs.items, (run) =>
          // Large payloads stay in the database: the detail refers to their nodes (R14).
          Effect.map(firstNodeSummaries(store, run.id, DETAIL_NODES), (nodes) => ({
            ...run,
            nodes: nodes.items.map((node) => withPayloadRefs(node, nodeHref(node))),
            nodes_next_cursor: nodeCursor(nodes)
          })))
        // No cursor is passed, so the listing cannot fail on one.
        const events = yield* recorder.list({ job_id: jobId, limit: DETAIL_EVENTS }).pipe(Effect.catchTag("DecodeFailure", Effect.die))
        const evidence_missing = yield* missingEvidenceOf(store, job, runs.items)
        return { job, runs: withNodes, runs_next_cursor: runs.next, events: events.items, events_next_cursor: events.next_cursor, evidence_missing }
      }))

    // The job first: a page of no runs is the job's, never a missing job's.
    const runPage = (jobId: JobId, query: typeof RunsQuery.Type) =>
      store.readConsistent(Effect.zipRight(
        Effect.zipRight(jobs.get(jobId), refuseForeignCursor(jobId, query.cursor as WorkflowRunId | undefined)),
        // The cursor decoded as a WorkflowRunId (RunCursor): canonical, lower-case.
        Effect.map(firstRuns(store, jobId, query.limit ?? PAGE_SIZE, query.cursor as WorkflowRunId | undefined), (runs) => ({
          items: runs.items,
          next_cursor: runs.next
        }))
      ))

    // A cursor is one of this job's runs: another job's (or no run) is refused, never read as a
    // place in this listing — an empty page with no next cursor would say the job has no more runs.
    const refuseForeignCursor = (jobId: JobId, cursor: WorkflowRunId | undefined) =>
      cursor === undefined ? Effect.void : store.getRun(cursor).pipe(
        Effect.catchTag("NotFound", () => Effect.succeed(undefined)),
        Effect.flatMap((run) => run?.job_id === jobId ? Effect.void : new DecodeFailure({
          subject: "request query",
          issues: [{ path: "cursor", message: "Not a cursor of this job's runs: the runs_next_cursor of its detail or of its previous page" }]
        }))
      )

    return handlers
      .handle("submit", ({ payload }) => Effect.flatMap(jobs.submit(payload), createdAnswer))
      .handle("list", ({ urlParams }) => Effect.zipRight(refuseProtoKey(JobsQuery), list(urlParams)))
      .handle("get", ({ path }) => detail(path.job_id))
      .handle("runs", ({ path, urlParams }) => Effect.zipRight(refuseProtoKey(RunsQuery), runPage(path.job_id, urlParams)))
      .handle("cancel", ({ path, payload }) => jobs.cancel(path.job_id, byOperator(payload)))
      .handle("retry", ({ path, payload }) => jobs.retry(path.job_id, byOperator(payload)))
      .handle("fail", ({ path, payload }) => jobs.fail(path.job_id, payload.reason ?? "failed by an operator", byOperator(payload)))
      .handle("resume", ({ path, payload }) => begunBy(jobs.resume, path.job_id, payload))
      .handle("rework", ({ path, payload }) => begunBy(jobs.rework, path.job_id, payload))
      .handle("pin", ({ path, payload }) => jobs.pin(path.job_id, byOperator(payload)))
      .handle("unpin", ({ path, payload }) => jobs.unpin(path.job_id, byOperator(payload)))
  }))

/** The Flight Recorder, oldest first unless asked otherwise. */
export const EventsLive = HttpApiBuilder.group(Api, "events", (handlers) =>
  Effect.gen(function*() {
    const recorder = yield* FlightRecorder
    const list = (query: typeof EventsQuery.Type) =>
      recorder.list({
        ...present("event_id", query.event_id),
        ...present("job_id", query.job_id),
        ...present("trace_id", query.trace_id),
        ...present("workflow_run_id", query.workflow_run_id),
        ...present("types", query.type),
        ...present("since", query.since),
        ...present("until", query.until),
        ...present("order", query.order),
        ...present("limit", query.limit),
        ...present("cursor", query.cursor)
      })
    return handlers.handle("list", ({ urlParams }) => Effect.zipRight(refuseProtoKey(EventsQuery), list(urlParams)))
  }))

/** Workflow runs: a run's node executions, a page at a time (large payloads as references), or one in full. */
export const RunsLive = HttpApiBuilder.group(Api, "runs", (handlers) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    // The run first: a page of no nodes is the run's, never a missing run's.
    const nodePage = (runId: WorkflowRunId, query: typeof NodesQuery.Type) =>
      store.readConsistent(Effect.zipRight(
        store.getRun(runId),
        // Large payloads stay in the database, as in a job's detail (R14): a page holds up to 1000 nodes.
        Effect.map(firstNodeSummaries(store, runId, query.limit ?? PAGE_SIZE, query.cursor === undefined ? undefined : Number(query.cursor)), (nodes) => ({
          items: nodes.items.map((node) => withPayloadRefs(node, nodeHref(node))),
          next_cursor: nodeCursor(nodes)
        }))
      ))
    return handlers
      .handle("nodes", ({ path, urlParams }) => Effect.zipRight(refuseProtoKey(NodesQuery), nodePage(path.workflow_run_id, urlParams)))
      .handle("node", ({ path }) => nodeInFull(store, path.workflow_run_id, path.sequence))
  }))

/** Every group's handlers, needing the library's services. */
export const layer = () => Layer.mergeAll(HealthLive, JobsLive, EventsLive, RunsLive)
