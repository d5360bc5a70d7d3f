/**
 * The JobStore port's input boundary, shared by every store: each argument a
 * caller hands the port is decoded here, once, before any SQL sees it. So the
 * same bad input gives the same `DecodeFailure` on SQLite and PostgreSQL,
 * ids reach the database in their one canonical (lower-case) form, every
 * string follows the text rule (domain/Text.ts), JSON keeps every key or is
 * refused (domain/Json.ts), and numeric options are whole numbers in range.
 *
 * Records the library built and checked itself (vouched for, domain/vouched.ts)
 * are taken as they are; everything else is decoded, whoever sends it.
 *
 * The port's types already say most of this; decoding again is what makes it
 * true for callers that got past the types (plain JavaScript, an HTTP layer,
 * a cast). Nothing is rewritten except ids to lower case.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { Attempt, NewAiJob } from "../../domain/AiJob.js"
import { decodeWith } from "../../domain/decode.js"
import { decodeEach } from "../../domain/decodeEach.js"
import { DecodeFailure } from "../../domain/Errors.js"
import { EventRecord, EventType } from "../../domain/EventRecord.js"
import { unknownOptions } from "../../domain/knownOptions.js"
import { EventId, isCanonicalId, JobId, NodeExecutionId, TraceId, WorkflowRunId } from "../../domain/Ids.js"
import { CanonicalJobKind, JobKind } from "../../domain/JobKind.js"
import { JobMetrics } from "../../domain/JobMetrics.js"
import { JobState } from "../../domain/JobState.js"
import { JsonObjectPayload, JsonPayload } from "../../domain/Json.js"
import { NonEmptyText, Text } from "../../domain/Text.js"
import { commonNewAiJob } from "../../domain/newAiJobCheck.js"
import { TimestampFromSelf } from "../../domain/Timestamp.js"
import { RECOVERY_PASSES } from "../../domain/stallReason.js"
import { storedBodyIssue } from "../../domain/storedEventBody.js"
import { isVouched } from "../../domain/vouched.js"
import { NodeStatus } from "../../domain/WorkflowRun.js"
import type { ClaimTemplate, JobStore } from "../JobStore.js"
import {
  commonClaimAdmittedOptions,
  commonCreateClaimedOptions,
  commonCreation,
  commonRunningJobEnd,
  commonRunSettle,
  decodeCommon,
  guarded,
  isStoredInstant
} from "./commonInputs.js"
import { disagreementMessage, envelopeDisagreements } from "./eventEnvelope.js"
import {
  Builder,
  ClaimAdmittedOptions,
  CreateClaimedOptions,
  CreationOptions,
  endOf,
  ErrorMessage,
  optional,
  RunningJobEnd,
  RunSettle
} from "./portSchemas.js"
import { MAX_JOB_DEPTH } from "../../domain/depth.js"

type Service = JobStore["Type"]

const wholeNumber = (min: number, what: string) =>
  Schema.Number.pipe(Schema.filter((n) => Number.isSafeInteger(n) && n >= min, {
    message: () => `Expected ${what}: a whole number of at least ${min}`
  }))

/** A page size: at least 1 (pages are capped at 1000). */
const PageLimit = wholeNumber(1, "a page size")
const RowCount = wholeNumber(0, "a row count")
const BatchSize = wholeNumber(1, "a batch size")
/** A time bound of a filter: any instant; bounds outside 1970–9999 are clamped by the stores. */
const Bound = Schema.DateTimeUtcFromSelf.annotations({ message: () => "Expected a DateTime.Utc" })
/** The stall threshold a reason records, the window a purge records: a finite duration. */
const FiniteDuration = Schema.DurationFromSelf.pipe(Schema.filter((d) => Duration.isFinite(d), {
  message: () => "Expected a finite Duration"
}))
/** The recovery pass a stall's reason names. */
const Pass = Schema.Literal(...RECOVERY_PASSES)

/**
 * An event's body: JSON within `MAX_JSON_BYTES` that reads back as an event
 * (domain/storedEventBody.ts). A body no listing can decode, once stored,
 * failed every `FlightRecorder.list` that met its row.
 */
const EventBody = JsonObjectPayload.pipe(Schema.filter((body) => storedBodyIssue(body) ?? true))

/**
 * An event record as a caller holds it: ids canonicalised, timestamp in the
 * stored range, its body an event whose envelope is the record's own (a row
 * that contradicts itself fails every listing, eventEnvelope.ts).
 */
const EventRecordInput = Schema.Struct({ ...EventRecord.fields, timestamp: TimestampFromSelf, body: EventBody }).pipe(
  Schema.filter((record) =>
    envelopeDisagreements(record)?.map((d) => ({ path: ["body", d.column], message: disagreementMessage(d, `the record's ${d.column} is`) })) ?? true
  )
)

const commonCreationOptions = guarded(commonCreation)
const commonEnd = guarded(commonRunningJobEnd)
const commonSettle = guarded(commonRunSettle)

/** A new job: the hand-built check for the common shape, else the Schema, which stays the authority (domain/newAiJobCheck.ts). */
const decodeNewJobBySchema = decodeWith(NewAiJob, "NewAiJob", MAX_JOB_DEPTH)
const decodeNewJob = (input: unknown): Effect.Effect<NewAiJob, DecodeFailure> => {
  const job = commonNewAiJob(input)
  return job === undefined ? decodeNewJobBySchema(input) : Effect.succeed(job)
}

/** A batch of new jobs when every one is in the common shape and valid (`commonNewAiJob`), else `undefined`. */
const commonNewAiJobs = (input: unknown): ReadonlyArray<NewAiJob> | undefined => {
  if (!Array.isArray(input)) return undefined
  const jobs: Array<NewAiJob> = []
  for (const item of input as ReadonlyArray<unknown>) {
    const job = commonNewAiJob(item)
    if (job === undefined) return undefined
    jobs.push(job)
  }
  return jobs
}

/**
 * An id argument: one already in its stored form is what the schema would
 * give, unchanged (so it is passed on as it is); any other input meets the schema.
 */
const decodeId = <A extends string>(schema: Schema.Schema<A, string>, subject: string) => {
  const bySchema = decodeWith(schema, subject)
  return (input: unknown): Effect.Effect<A, DecodeFailure> => isCanonicalId(input) ? Effect.succeed(input as A) : bySchema(input)
}

/**
 * A method of one id argument: an id in its stored form is passed on at
 * once, without an Effect step of its own (issue 16: a heartbeat's every
 * call); any other input is decoded by `decodeIt` first.
 */
const withId = <A extends string, B, E, R>(
  decodeIt: (input: unknown) => Effect.Effect<A, DecodeFailure>,
  method: (id: A) => Effect.Effect<B, E, R>
) =>
(input: unknown): Effect.Effect<B, E | DecodeFailure, R> => isCanonicalId(input) ? method(input as A) : Effect.flatMap(decodeIt(input), method)

/**
 * `schema`'s decode, after refusing a key its fields do not name
 * (knownOptions.ts): in a filter or a claim's options a misspelt key dropped
 * means "all" — every job listed, a job of any kind claimed.
 */
const namedOnly = <A, I>(
  schema: Schema.Schema<A, I> & { readonly fields: Schema.Struct.Fields },
  subject: string,
  extra: ReadonlyArray<string> = []
) => {
  const known = [...Object.keys(schema.fields), ...extra]
  const decoder = decodeWith(schema, subject)
  return (input: unknown): Effect.Effect<A, DecodeFailure> => {
    const refused = unknownOptions(input, known, subject)
    return refused !== undefined ? Effect.fail(refused) : decoder(input)
  }
}

/** A claim's options, as every claim method names them when it refuses them (not after the method: `Jobs.claimNext` reaches several). */
const ClaimOptions = Schema.Struct({ kinds: optional(Schema.Array(JobKind)), events: optional(Builder), take: optional(Schema.Boolean) })

const decode = {
  jobId: decodeId(JobId, "JobId"),
  runId: decodeId(WorkflowRunId, "WorkflowRunId"),
  nodeId: decodeId(NodeExecutionId, "NodeExecutionId"),
  newJob: decodeNewJob,
  // Job by job, as `createJob` decodes one: the same checks, each path led by the job's index.
  newJobs: decodeEach(decodeNewJob, "NewAiJob"),
  creation: decodeCommon(commonCreation, CreationOptions, "creation options"),
  // A change's options (`setPinned`) are a creation's: its records and its instant (JobStore.ts `Change`).
  change: decodeCommon(commonCreation, CreationOptions, "change options"),
  pinned: decodeWith(Schema.Boolean, "is_pinned"),
  jobFilter: namedOnly(Schema.Struct({
    states: optional(Schema.Array(JobState)),
    kinds: optional(Schema.Array(JobKind)),
    created_after: optional(Bound),
    created_before: optional(Bound),
    trace_id: optional(TraceId),
    workflow_run_id: optional(WorkflowRunId),
    order: optional(Schema.Literal("asc", "desc")),
    limit: optional(PageLimit),
    cursor: optional(Schema.String)
  }), "JobFilter"),
  // Only the fields it names, as a patch: a misspelt `reasn` was dropped and the move went ahead without it.
  transition: namedOnly(Schema.Struct({
    job_id: JobId,
    to: JobState,
    from: optional(JobState),
    status_reason: optional(Text),
    error_message: ErrorMessage,
    workflow_run_id: optional(Schema.NullOr(WorkflowRunId)),
    attempt: optional(Attempt),
    run_after: optional(TimestampFromSelf),
    events: optional(Builder),
    at: optional(TimestampFromSelf)
  }), "TransitionRequest"),
  // Only the fields it names: a misspelt `error_mesage` or a `state` was dropped, the call
  // succeeding with nothing changed.
  patch: namedOnly(Schema.Struct({
    metrics: optional(JobMetrics),
    job_outputs: optional(Schema.NullOr(JsonPayload)),
    status_reason: optional(Text),
    error_message: ErrorMessage,
    events: optional(Builder),
    at: optional(TimestampFromSelf)
  }), "JobPatch"),
  release: namedOnly(Schema.Struct({ reason: Text, events: optional(Builder), at: optional(TimestampFromSelf) }), "releaseRun"),
  unreadable: decodeWith(Schema.Struct({ job_id: JobId, reason: NonEmptyText }), "UnreadableJobFailure"),
  // Only the Schema: finishRunningJob has tried the hand check (commonEnd) already.
  runningJobEnd: decodeWith(RunningJobEnd, "RunningJobEnd"),
  // Only the Schema: settleRun has tried the hand check (commonSettle) already.
  runSettle: decodeWith(RunSettle, "RunSettle"),
  // Any job state decodes: `stalled`, `queued` and `running` end no run, which the store answers
  // with IllegalTransition naming the run's job (internal/runEnd.ts), as for any forbidden move.
  runEnd: namedOnly(Schema.Struct({ status: JobState, error_message: ErrorMessage, events: optional(Builder) }), "finishRun"),
  // A node's payload is JSON bounded at 64 levels by `JsonPayload`, which names the field; the struct
  // around it is a level of its own, so the whole is guarded at MAX_JOB_DEPTH, as a job is (a payload
  // exactly 64 deep was refused, naming no field, and failed its job).
  nodeStart: decodeWith(Schema.Struct({
    id: optional(NodeExecutionId),
    workflow_run_id: WorkflowRunId,
    node_id: NonEmptyText,
    node_type: NonEmptyText,
    input_payload: optional(Schema.NullOr(JsonPayload))
  }), "startNode", MAX_JOB_DEPTH),
  nodeEnd: decodeWith(Schema.Struct({
    status: endOf(NodeStatus),
    output_payload: optional(Schema.NullOr(JsonPayload)),
    error_message: ErrorMessage
  }), "finishNode", MAX_JOB_DEPTH),
  stalledNodesEnd: namedOnly(Schema.Struct({
    // A status that finishes a node: a paused one (awaiting_*) would leave it open with finished_at stamped.
    status: endOf(NodeStatus).pipe(Schema.filter((s) => s !== "awaiting_validation" && s !== "awaiting_user", {
      message: () => "Expected a status that finishes a node (not awaiting_validation or awaiting_user)"
    })),
    error_message: Text
  }), "endStalledRunNodes"),
  claim: namedOnly(ClaimOptions, "ClaimOptions"),
  // An adoption's options are a claim's, and whether the run stays untaken (read apart, below).
  adopt: namedOnly(ClaimOptions, "ClaimOptions", ["leaveUntaken", "adopted"]),
  findStale: decodeWith(Schema.Struct({ heartbeatBefore: Bound, limit: optional(RowCount) }), "findStaleRuns"),
  stallStale: decodeWith(
    Schema.Struct({
      heartbeatBefore: Bound,
      threshold: FiniteDuration,
      limit: RowCount,
      events: optional(Builder),
      recordRecovery: optional(Schema.Boolean),
      pass: optional(Pass)
    }).pipe(Schema.filter((o) =>
      // The `workflow_recovery` record carries the threshold as whole seconds (`threshold_secs`).
      o.recordRecovery !== true || Number.isSafeInteger(Duration.toSeconds(o.threshold)) || {
        path: ["threshold"],
        message: "Expected a threshold of whole seconds: the workflow_recovery record names it in seconds"
      })),
    "stallStaleRuns"
  ),
  stallUnderStalled: decodeWith(
    Schema.Struct({ threshold: FiniteDuration, pass: optional(Pass) }).pipe(Schema.filter((o) =>
      Number.isSafeInteger(Duration.toSeconds(o.threshold)) || {
        path: ["threshold"],
        message: "Expected a threshold of whole seconds: the workflow_recovery record names it in seconds"
      })),
    "stallJobsUnderStalledRuns"
  ),
  prune: decodeWith(
    Schema.Struct({ olderThan: Bound, keepNewest: RowCount, batchSize: optional(BatchSize), dryRun: optional(Schema.Boolean), events: optional(Builder) }),
    "pruneJobs"
  ),
  events: decodeWith(Schema.Array(EventRecordInput), "EventRecord"),
  eventFilter: namedOnly(Schema.Struct({
    event_id: optional(EventId),
    job_id: optional(Schema.NullOr(JobId)),
    trace_id: optional(TraceId),
    workflow_run_id: optional(WorkflowRunId),
    types: optional(Schema.Array(EventType)),
    since: optional(Bound),
    until: optional(Bound),
    order: optional(Schema.Literal("asc", "desc")),
    limit: optional(PageLimit),
    cursor: optional(Schema.String)
  }), "EventFilter"),
  purge: decodeWith(Schema.Struct({ before: Bound, batchSize: BatchSize, window: optional(FiniteDuration) }), "purgeEventsBatch"),
  // Only the keys they name: a misspelt `limt` dropped would read the whole, unbounded list.
  nodePage: namedOnly(Schema.Struct({ after: optional(RowCount), limit: optional(PageLimit) }), "NodePage"),
  nodeSummaryPage: namedOnly(
    Schema.Struct({ after: optional(RowCount), limit: optional(PageLimit), inlineBytes: RowCount }),
    "NodeSummaryPage"
  ),
  runPage: namedOnly(Schema.Struct({ after: optional(WorkflowRunId), limit: optional(PageLimit) }), "RunPage")
}

/** A claim template (`claimAdmitted`) as a caller gives it: its subject as stored text, its records as any records. */
const ClaimTemplateInput = Schema.Struct({
  // Canonical only: a template matches the kind as stored, and the alias is never written.
  job_kind: CanonicalJobKind,
  protocol_id: Text,
  profile_id: Text,
  capability_profile_id: Text,
  records: Schema.Array(EventRecordInput)
})
const decodeTemplatesBySchema = decodeWith(Schema.Array(ClaimTemplateInput), "ClaimTemplate")
const decodeEventIdsBySchema = decodeWith(Schema.Array(EventId), "event_ids")
const decodeClaimAdmitted = decodeCommon(commonClaimAdmittedOptions, ClaimAdmittedOptions, "ClaimOptions")
const commonClaimOptions = guarded(commonClaimAdmittedOptions)

/**
 * `claimAdmitted`'s options. Templates the library built from checked parts
 * and vouched for (a Jobs layer's memo, internal/jobs/claimTemplates.ts) are
 * taken as they are; any others are decoded. Event ids in their stored form
 * pass unchanged. There must be an id for each record of the longest template.
 */
const decodeAdmittedClaim = <A, E, R>(
  options: unknown,
  method: (options: Parameters<NonNullable<Service["claimAdmitted"]>>[0]) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | DecodeFailure, R> => {
  const { event_ids, templates, ...rest } = typeof options === "object" && options !== null
    ? options as Record<string, unknown>
    : { event_ids: undefined, templates: undefined }
  /** The options, or why not: too few event ids. A value, so the common path takes no Effect step. */
  const checked = (
    [o, ts, ids]: readonly [typeof ClaimAdmittedOptions.Type, ReadonlyArray<ClaimTemplate>, ReadonlyArray<EventId>]
  ) => {
    const needed = ts.reduce((most, template) => Math.max(most, template.records.length), 0)
    return ids.length >= needed
      ? { ...o, templates: ts, event_ids: ids }
      : new DecodeFailure({
        subject: "claimAdmitted",
        issues: [{ path: "event_ids", message: `Expected at least ${needed} event ids: one for each record of the longest template` }]
      })
  }
  const ownTemplates = Array.isArray(templates) && isVouched(templates) ? templates as ReadonlyArray<ClaimTemplate> : undefined
  const storedIds = Array.isArray(event_ids) && event_ids.every(isCanonicalId)
    ? event_ids as ReadonlyArray<unknown> as ReadonlyArray<EventId>
    : undefined
  const common = commonClaimOptions(rest)
  const call = (parts: Parameters<typeof checked>[0]): Effect.Effect<A, E | DecodeFailure, R> => {
    const claim = checked(parts)
    return claim instanceof DecodeFailure ? Effect.fail(claim) : method(claim)
  }
  // The memo's own templates, ids in stored form, no odd option (every claim of a Jobs layer): no decode step.
  if (common !== undefined && ownTemplates !== undefined && storedIds !== undefined) return call([common, ownTemplates, storedIds])
  return Effect.flatMap(
    Effect.all([
      decodeClaimAdmitted(rest),
      ownTemplates !== undefined ? Effect.succeed(ownTemplates) : decodeTemplatesBySchema(templates),
      storedIds !== undefined ? Effect.succeed(storedIds) : decodeEventIdsBySchema(event_ids)
    ]),
    call
  )
}

type CreateClaimedOptions = Parameters<NonNullable<Service["createClaimed"]>>[1]
const decodeCreateClaimedKinds = decodeCommon(commonCreateClaimedOptions, CreateClaimedOptions, "createClaimed")
const commonCreateClaimed = guarded(commonCreateClaimedOptions)

/**
 * `createClaimed`'s arguments: the job as `createJob`'s, `kinds` and `take`
 * as `claimNext`'s, `at` as `createJob`'s, the creation's and the claim's records as any change's (the
 * library's own pass as they are), the run id as any run id. All in their
 * common shape (a submit's, no kind filter): no decode step at all.
 */
const decodeCreateClaimed = <A, E, R>(
  job: unknown,
  options: unknown,
  method: (job: NewAiJob, options: CreateClaimedOptions) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | DecodeFailure, R> => {
  const { claim, events, ...rest } = typeof options === "object" && options !== null
    ? options as Record<string, unknown>
    : { claim: undefined, events: undefined }
  const { records, run_id } = typeof claim === "object" && claim !== null
    ? claim as Record<string, unknown>
    : { records: undefined, run_id: undefined }
  const call = ([j, o, created, claimed, runId]: readonly [
    NewAiJob,
    typeof CreateClaimedOptions.Type,
    ReadonlyArray<EventRecord>,
    ReadonlyArray<EventRecord>,
    WorkflowRunId
  ]) => method(j, { ...o, events: created, claim: { run_id: runId, records: claimed } })
  const [j, o, created, claimed] = [commonNewAiJob(job), commonCreateClaimed(rest), libraryRecords(events), libraryRecords(records)]
  if (j !== undefined && o !== undefined && created !== null && claimed !== null && isCanonicalId(run_id)) {
    return call([j, o, created, claimed, run_id as WorkflowRunId])
  }
  return Effect.flatMap(
    Effect.all([
      j !== undefined ? Effect.succeed(j) : decode.newJob(job),
      decodeCreateClaimedKinds(rest),
      decodeEventRecords(events),
      decodeEventRecords(records),
      decode.runId(run_id)
    ]),
    call
  )
}

/**
 * Records the library built and checked itself (`FlightRecorder.build` and
 * `prepare` vouch for theirs, domain/vouched.ts), as a copy of the list;
 * null when any record is not one of them: then the whole list is decoded,
 * so a caller's records meet the same checks and errors as ever.
 */
const libraryRecords = (input: unknown): ReadonlyArray<EventRecord> | null => {
  if (!Array.isArray(input)) return null
  for (const record of input) {
    if (!isVouched(record) || !isStoredInstant((record as EventRecord).timestamp)) return null
  }
  return input.slice()
}

/** Event records as the port decodes them: for `appendEvents`, and for what a change's `events` gives (audit.ts). */
export const decodeEventRecords = (input: unknown): Effect.Effect<ReadonlyArray<EventRecord>, DecodeFailure> => {
  const own = libraryRecords(input)
  return own === null ? decode.events(input) : Effect.succeed(own)
}

/**
 * The store with every argument decoded at the port (see the module comment).
 * Decoded values have the port's own types; the few `as` restore what a
 * schema cannot spell (the events builders' signatures, a status union).
 */
export const decodingInputs = (store: Service): Service => ({
  // Listed one by one, not spread: a method added to the port must be given its decoding here.
  dialect: store.dialect,
  schemaVersion: store.schemaVersion,
  ...(store.inOwnTransaction !== undefined ? { inOwnTransaction: store.inOwnTransaction } : {}),
  transaction: store.transaction,
  readConsistent: store.readConsistent,
  ...(store.cancelWritesOf !== undefined ? { cancelWritesOf: store.cancelWritesOf } : {}),
  createJob: (job, options = {}) => {
    // Both in their common shape (every submit): no decode step at all.
    const [j, o] = [commonNewAiJob(job), commonCreationOptions(options)]
    return j !== undefined && o !== undefined
      ? store.createJob(j, o as typeof options)
      : Effect.flatMap(Effect.all([decode.newJob(job), decode.creation(options)]), ([j, o]) => store.createJob(j, o as typeof options))
  },
  createJobs: (jobs, options = {}) => {
    // Every job and the options in their common shape (a batch of submits): no Effect per job.
    const [js, o] = [commonNewAiJobs(jobs), commonCreationOptions(options)]
    return js !== undefined && o !== undefined
      ? store.createJobs(js, o as typeof options)
      : Effect.flatMap(Effect.all([decode.newJobs(jobs), decode.creation(options)]), ([js, o]) => store.createJobs(js, o as typeof options))
  },
  getJob: withId(decode.jobId, store.getJob),
  lockJob: withId(decode.jobId, store.lockJob),
  listJobs: (filter = {}) => Effect.flatMap(decode.jobFilter(filter), store.listJobs),
  // The abbreviation is checked by the store's own search (domain/IdAbbreviation.ts), alike on both.
  findJobIds: (abbreviation, options) => store.findJobIds(abbreviation, options),
  // `stalled` decodes (it is a JobState), and the store answers IllegalTransition: no edge leads there (R6a).
  transition: (request) => Effect.flatMap(decode.transition(request), (r) => store.transition(r as typeof request)),
  updateJob: (jobId, patch) =>
    Effect.flatMap(Effect.all([decode.jobId(jobId), decode.patch(patch)]), ([id, p]) => store.updateJob(id, p as typeof patch)),
  setPinned: (jobId, pinned, options = {}) =>
    Effect.flatMap(
      Effect.all([decode.jobId(jobId), decode.pinned(pinned), decode.change(options)]),
      ([id, p, o]) => store.setPinned(id, p, o as typeof options)
    ),
  failUnreadableJob: (failure) => {
    const { event, ...rest } = typeof failure === "object" && failure !== null ? failure : { event: undefined }
    return Effect.flatMap(
      Effect.all([decode.unreadable(rest), decodeEventRecords([event])]),
      ([f, [record]]) => store.failUnreadableJob({ ...f, event: record! })
    )
  },
  createRun: (jobId, options = {}) =>
    Effect.flatMap(Effect.all([decode.jobId(jobId), decode.creation(options)]), ([id, o]) => store.createRun(id, o as typeof options)),
  getRun: withId(decode.runId, store.getRun),
  lockRun: withId(decode.runId, store.lockRun),
  // Without options (every caller but a paged read): the id alone, as before.
  listRuns: (jobId, options) =>
    options === undefined
      ? withId(decode.jobId, store.listRuns)(jobId)
      : Effect.flatMap(Effect.all([decode.jobId(jobId), decode.runPage(options)]), ([id, o]) => store.listRuns(id, o)),
  finishRun: (runId, status, options = {}) =>
    Effect.flatMap(
      Effect.all([decode.runId(runId), decode.runEnd({ ...options, status })]),
      ([id, { status: end, ...rest }]) => store.finishRun(id, end as typeof status, rest as typeof options)
    ),
  heartbeat: withId(decode.runId, store.heartbeat),
  takeRun: withId(decode.runId, store.takeRun),
  // Optional on the port: present only where the store has it.
  ...(store.finishRunningJob === undefined ? {} : {
    finishRunningJob: (end: Parameters<NonNullable<Service["finishRunningJob"]>>[0]) => {
      // The record as any change's records: one the library vouched for is not decoded again.
      const { event, ...rest } = typeof end === "object" && end !== null ? end : { event: undefined }
      // Both in their common shape (every complete): no decode step at all.
      const [e, own] = [commonEnd(rest), libraryRecords([event])]
      if (e !== undefined && own !== null) return store.finishRunningJob!({ ...e, event: own[0]! } as typeof end)
      // What the hand checks did not vouch for goes to the Schema alone (they ran once already).
      return Effect.flatMap(
        Effect.all([
          e !== undefined ? Effect.succeed(e) : decode.runningJobEnd(rest),
          own !== null ? Effect.succeed(own) : decodeEventRecords([event])
        ]),
        ([e, [record]]) => store.finishRunningJob!({ ...e, event: record } as typeof end)
      )
    }
  }),
  ...(store.settleRun === undefined ? {} : {
    settleRun: (settle: Parameters<NonNullable<Service["settleRun"]>>[0]) => {
      // As `finishRunningJob`: the record the library vouched for is not decoded again.
      const { event, ...rest } = typeof settle === "object" && settle !== null ? settle : { event: undefined }
      const own = libraryRecords([event])
      // Both in their common shape (every settle a pool makes): no decode step at all.
      const s = commonSettle(rest)
      if (s !== undefined && own !== null) return store.settleRun!({ ...s, event: own[0]! } as typeof settle)
      return Effect.flatMap(
        Effect.all([
          s !== undefined ? Effect.succeed(s) : decode.runSettle(rest),
          own !== null ? Effect.succeed(own) : decodeEventRecords([event])
        ]),
        ([s, [record]]) => store.settleRun!({ ...s, event: record } as typeof settle)
      )
    }
  }),
  releaseRun: (runId, options) =>
    Effect.flatMap(Effect.all([decode.runId(runId), decode.release(options)]), ([id, o]) => store.releaseRun(id, o as typeof options)),
  startNode: (input) => Effect.flatMap(decode.nodeStart(input), store.startNode),
  finishNode: (nodeId, outcome) =>
    Effect.flatMap(
      Effect.all([decode.nodeId(nodeId), decode.nodeEnd(outcome)]),
      ([id, o]) => store.finishNode(id, o as typeof outcome)
    ),
  endStalledRunNodes: (runId, outcome) =>
    Effect.flatMap(
      Effect.all([decode.runId(runId), decode.stalledNodesEnd(outcome)]),
      ([id, o]) => store.endStalledRunNodes(id, o as typeof outcome)
    ),
  listNodes: (runId, options) =>
    options === undefined
      ? withId(decode.runId, store.listNodes)(runId)
      : Effect.flatMap(Effect.all([decode.runId(runId), decode.nodePage(options)]), ([id, o]) => store.listNodes(id, o)),
  listNodeSummaries: (runId, options) =>
    Effect.flatMap(Effect.all([decode.runId(runId), decode.nodeSummaryPage(options)]), ([id, o]) => store.listNodeSummaries(id, o)),
  claimNext: (options = {}) =>
    Effect.flatMap(decode.claim(options), (o) => store.claimNext(o as typeof options)),
  ...(store.claimAdmitted === undefined ? {} : {
    claimAdmitted: (options: Parameters<NonNullable<Service["claimAdmitted"]>>[0]) => decodeAdmittedClaim(options, store.claimAdmitted!)
  }),
  ...(store.createClaimed === undefined ? {} : {
    createClaimed: (job: NewAiJob, options: CreateClaimedOptions) => decodeCreateClaimed(job, options, store.createClaimed!)
  }),
  ...(store.offerRun === undefined ? {} : { offerRun: withId(decode.runId, store.offerRun) }),
  ...(store.adoptOfferedRun === undefined ? {} : {
    // Kinds as claimNext's: the alias read as its canonical kind, anything else a DecodeFailure.
    adoptOfferedRun: (options: Parameters<NonNullable<Service["adoptOfferedRun"]>>[0] = {}) =>
      Effect.flatMap(
        decode.adopt(options),
        (o) =>
          store.adoptOfferedRun!({
            ...o as typeof options,
            ...(options.leaveUntaken === true ? { leaveUntaken: true } : {}),
            ...(typeof options.adopted === "function" ? { adopted: options.adopted } : {})
          })
      )
  }),
  findStaleRuns: (options) => Effect.flatMap(decode.findStale(options), store.findStaleRuns),
  stallStaleRuns: (options) =>
    Effect.flatMap(decode.stallStale(options), (o) => store.stallStaleRuns(o as typeof options)),
  ...(store.stallJobsUnderStalledRuns === undefined ? {} : {
    stallJobsUnderStalledRuns: (options: Parameters<NonNullable<Service["stallJobsUnderStalledRuns"]>>[0]) =>
      Effect.flatMap(decode.stallUnderStalled(options), (o) => store.stallJobsUnderStalledRuns!(o as typeof options))
  }),
  pruneJobs: (options) => Effect.flatMap(decode.prune(options), (o) => store.pruneJobs(o as typeof options)),
  appendEvents: (events) => Effect.flatMap(decodeEventRecords(events), store.appendEvents),
  listEvents: (filter = {}) => Effect.flatMap(decode.eventFilter(filter), store.listEvents),
  purgeEventsBatch: (options) => Effect.flatMap(decode.purge(options), store.purgeEventsBatch),
  // No input to decode.
  retentionHorizon: store.retentionHorizon
})
