/**
 * JobStore: the storage port for jobs, workflow runs, node executions and
 * Flight Recorder events. One interface; separate SQLite and PostgreSQL layers
 * (`SqliteStore`, `PgStore`) implement it and pass one contract suite.
 *
 * Time comes from Effect's `Clock` inside the store (tests drive it with
 * `TestClock`). Every multi-row change runs in one transaction, and operations
 * that change state accept Flight Recorder records to write in that same
 * transaction, so a change and its audit event commit together or not at all.
 */
import * as Context from "effect/Context"
import type * as DateTime from "effect/DateTime"
import type * as Effect from "effect/Effect"
import type { AiJob, NewAiJob } from "../domain/AiJob.js"
import type { DecodeFailure, IllegalTransition } from "../domain/Errors.js"
import type { EventRecord, EventType } from "../domain/EventRecord.js"
import type { EventId, JobId, NodeExecutionId, TraceId, WorkflowRunId } from "../domain/Ids.js"
import type { JobKind } from "../domain/JobKind.js"
import type { JobMetrics } from "../domain/JobMetrics.js"
import type { JobState } from "../domain/JobState.js"
import type { Json } from "../domain/Json.js"
import type { TransitionTarget } from "../domain/Lifecycle.js"
import type { NodeExecution, NodeStatus, WorkflowRun } from "../domain/WorkflowRun.js"
import type { AlreadyExists, CorruptRow, NotFound, RunNotActive, StorageError } from "./StoreErrors.js"

/** Errors every read can raise: the database failed, or a row does not decode. */
export type ReadError = StorageError | CorruptRow

/** Records to write in the same transaction as a change. */
export interface WithEvents {
  readonly events?: ReadonlyArray<EventRecord>
}

/** A page of results and the cursor for the next one (absent on the last page). */
export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly next_cursor: string | null
}

/** Filters for listing jobs. Ordered by `created_at`, then `job_id`; oldest first unless `order` says otherwise. */
export interface JobFilter {
  readonly states?: ReadonlyArray<JobState>
  readonly kinds?: ReadonlyArray<JobKind>
  readonly created_after?: DateTime.Utc
  readonly created_before?: DateTime.Utc
  readonly trace_id?: TraceId
  readonly workflow_run_id?: WorkflowRunId
  /** `asc` (default): oldest first; `desc`: newest first. A cursor continues in the order of the page that gave it. */
  readonly order?: "asc" | "desc"
  /** Page size, default 100, at most 1000. */
  readonly limit?: number
  /** The `next_cursor` of the previous page; anything else fails with `DecodeFailure`. */
  readonly cursor?: string
}

/** A guarded state change (R6). `to` can never be `stalled`: that belongs to recovery (R6a). */
export interface TransitionRequest extends WithEvents {
  readonly job_id: JobId
  readonly to: TransitionTarget
  /** Compare-and-set: apply only if the job is in exactly this state now. */
  readonly from?: JobState
  readonly status_reason?: string
  readonly error_message?: string | null
  /** Point the job at a new workflow run (start, resume, rework). */
  readonly workflow_run_id?: WorkflowRunId | null
}

/** Fields of a job that change outside the lifecycle. */
export interface JobPatch extends WithEvents {
  readonly metrics?: JobMetrics
  readonly job_outputs?: Json | null
  readonly status_reason?: string
  readonly error_message?: string | null
}

/** Filters for listing events. Ordered by `timestamp`, then `event_id`; oldest first unless `order` says otherwise. */
export interface EventFilter {
  readonly event_id?: EventId
  readonly job_id?: JobId
  readonly trace_id?: TraceId
  readonly workflow_run_id?: WorkflowRunId
  readonly types?: ReadonlyArray<EventType>
  readonly since?: DateTime.Utc
  readonly until?: DateTime.Utc
  readonly order?: "asc" | "desc"
  readonly limit?: number
  readonly cursor?: string
}

/** A job claimed by a worker together with the run created for it. */
export interface Claim {
  readonly job: AiJob
  readonly run: WorkflowRun
}

/** A run moved to `stalled` by recovery: the run as it was, and its job's trace id. */
export interface StalledRun {
  readonly run: WorkflowRun
  readonly trace_id: TraceId
}

/** The storage service. Every method is an Effect whose errors are tagged. */
export class JobStore extends Context.Tag("@handshake/ai-job-model/JobStore")<JobStore, {
  /** Which database is behind this store. */
  readonly dialect: "sqlite" | "pg"

  /**
   * The number of the newest migration applied (0 for an empty database).
   * Answering at all shows the database is reachable: health checks use it.
   */
  readonly schemaVersion: Effect.Effect<number, StorageError>

  /** Runs `effect` in one transaction (nested calls become savepoints). */
  readonly transaction: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | StorageError, R>

  // Jobs

  /** Stores a new job: state `queued`, zeroed metrics, fresh `job_id`/`trace_id` unless given. */
  readonly createJob: (job: NewAiJob, options?: WithEvents) => Effect.Effect<AiJob, AlreadyExists | StorageError>
  readonly getJob: (jobId: JobId) => Effect.Effect<AiJob, NotFound | ReadError>
  readonly listJobs: (filter?: JobFilter) => Effect.Effect<Page<AiJob>, ReadError | DecodeFailure>
  /**
   * Moves a job to `to` only if its current state allows it (and equals `from`
   * when given), in one guarded UPDATE. A lost race is `IllegalTransition`
   * naming the state actually found; never an overwrite.
   */
  readonly transition: (request: TransitionRequest) => Effect.Effect<AiJob, NotFound | IllegalTransition | ReadError>
  readonly updateJob: (jobId: JobId, patch: JobPatch) => Effect.Effect<AiJob, NotFound | ReadError>
  /**
   * Pins a job (pruning never deletes it, R18) or unpins it. Only a change is
   * written: the flag, `updated_at` and `events`, in one guarded UPDATE; a job
   * already so is returned as it is, with no events written.
   */
  readonly setPinned: (jobId: JobId, pinned: boolean, options?: WithEvents) => Effect.Effect<AiJob, NotFound | ReadError>

  // Workflow runs

  /** Creates a `running` run for the job with its heartbeat at now. */
  readonly createRun: (jobId: JobId, options?: WithEvents) => Effect.Effect<WorkflowRun, NotFound | StorageError>
  readonly getRun: (runId: WorkflowRunId) => Effect.Effect<WorkflowRun, NotFound | ReadError>
  /** Runs of one job, oldest first. */
  readonly listRuns: (jobId: JobId) => Effect.Effect<ReadonlyArray<WorkflowRun>, ReadError>
  /**
   * Ends a `running` run with a final status (never `stalled`: recovery's alone).
   * A run that is no longer running fails with `RunNotActive`.
   */
  readonly finishRun: (
    runId: WorkflowRunId,
    status: Exclude<TransitionTarget, "queued" | "running">,
    options?: WithEvents & { readonly error_message?: string | null }
  ) => Effect.Effect<WorkflowRun, NotFound | RunNotActive | ReadError>
  /** Writes a heartbeat at now. A run that is no longer running fails with `RunNotActive`. */
  readonly heartbeat: (runId: WorkflowRunId) => Effect.Effect<WorkflowRun, NotFound | RunNotActive | ReadError>

  // Node executions (HSK-WF-001)

  /** Starts a node execution (`running`), taking the run's next sequence number. */
  readonly startNode: (input: {
    readonly workflow_run_id: WorkflowRunId
    readonly node_id: string
    readonly node_type: string
    readonly input_payload?: Json | null
  }) => Effect.Effect<NodeExecution, NotFound | StorageError>
  /** Records how a node execution ended. */
  readonly finishNode: (nodeId: NodeExecutionId, outcome: {
    readonly status: Exclude<NodeStatus, "running">
    readonly output_payload?: Json | null
    readonly error_message?: string | null
  }) => Effect.Effect<NodeExecution, NotFound | ReadError>
  /** Node executions of a run in sequence order. */
  readonly listNodes: (runId: WorkflowRunId) => Effect.Effect<ReadonlyArray<NodeExecution>, ReadError>

  // Workers and recovery

  /**
   * Atomically takes the oldest queued job (of the given kinds, if any),
   * creates its run and moves the job to `running`. Safe across processes:
   * no job is claimed twice. `events` builds the records written with it.
   */
  readonly claimNext: (options?: {
    readonly kinds?: ReadonlyArray<JobKind>
    readonly events?: (claim: Claim) => ReadonlyArray<EventRecord>
  }) => Effect.Effect<Claim | null, ReadError>
  /** Running runs whose heartbeat is older than `now - olderThanMs`, oldest heartbeat first. */
  readonly findStaleRuns: (options: {
    readonly olderThanMs: number
    readonly limit?: number
  }) => Effect.Effect<ReadonlyArray<WorkflowRun>, ReadError>
  /**
   * Startup recovery's one write (R9): in one transaction, takes up to `limit`
   * stale running runs not locked by another recoverer, moves each run and its
   * job to `stalled`, and writes the records `events` builds for each. Returns
   * the runs it moved (as they were before: status `running`, their last
   * heartbeat) with their job's trace id, so the caller can write one
   * `workflow_recovery` event per run without reading each job (no N+1).
   * Concurrent calls never move a run twice.
   */
  readonly stallStaleRuns: (options: {
    readonly olderThanMs: number
    readonly limit: number
    readonly events?: (stalled: StalledRun) => ReadonlyArray<EventRecord>
  }) => Effect.Effect<ReadonlyArray<StalledRun>, ReadError>

  // Pruning (R18)

  /**
   * Deletes terminal jobs last updated before `olderThan` (with their runs and
   * nodes), never pinned ones, always keeping the newest `keepNewest` terminal
   * jobs. With `dryRun`, counts without deleting.
   */
  readonly pruneJobs: (options: {
    readonly olderThan: DateTime.Utc
    readonly keepNewest: number
    readonly dryRun?: boolean
  }) => Effect.Effect<{ readonly deleted: number }, StorageError>

  // Flight Recorder sink

  /** Appends event records; all or nothing. */
  readonly appendEvents: (events: ReadonlyArray<EventRecord>) => Effect.Effect<void, AlreadyExists | StorageError>
  readonly listEvents: (filter?: EventFilter) => Effect.Effect<Page<EventRecord>, ReadError | DecodeFailure>
  /**
   * Deletes up to `batchSize` events older than `before` in one short
   * transaction and returns how many it deleted. The only way events are ever
   * deleted: the database refuses any other UPDATE or DELETE.
   */
  readonly purgeEventsBatch: (options: {
    readonly before: DateTime.Utc
    readonly batchSize: number
  }) => Effect.Effect<number, StorageError>
}>() {}
