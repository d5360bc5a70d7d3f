/**
 * JobStore: the storage port for jobs, workflow runs, node executions and
 * Flight Recorder events. One interface; separate SQLite and PostgreSQL layers
 * (`SqliteStore`, `PgStore`) implement it and pass one contract suite.
 *
 * Time: a change stamps rows with Effect's `Clock` (tests drive it with
 * `TestClock`). A cutoff is given as an instant, a `DateTime.Utc` bound
 * (`heartbeatBefore`, `olderThan`, `before`): services turn their
 * `Duration`s into one with the Clock once, and the store only compares.
 * Every multi-row change runs in one transaction.
 *
 * ## Auditing a change
 *
 * One way: every method that changes state takes `events`, a function of the
 * change's result (the job, run, claim, stalled runs or prune counts the
 * store just wrote) giving the Flight Recorder records about it (`Audit`).
 * The store writes them with the change — in the change's own statement
 * where it knows them before writing (`auditWith`: records that do not
 * depend on the result; a new job's or run's), else after it in the change's
 * own transaction — so a change and its audit records commit together or
 * not at all, including where the store makes the ids (a claim's run,
 * recovery's stalled runs). `transaction`
 * composes several changes (lock the job, move it, create its run);
 * `appendEvents` is only the Flight Recorder's sink for events tied to no
 * change.
 *
 * A method called inside `transaction` joins it: it opens no savepoint of
 * its own (a change of one statement opens no transaction at all). If it
 * fails there, let the failure end the transaction (it rolls back whole), or
 * nest the call in its own `transaction` (a savepoint) to carry on without it.
 *
 * ## Lock order
 *
 * One order for every path that touches a job and its run, on both stores:
 * **the job row first, then its run row(s), then node rows and events.**
 *
 * - Every `Jobs` transaction that changes a job — start, resume, rework,
 *   each guarded move (complete, cancel, fail, …), a run's own settle and its
 *   release — begins with `lockJob`, then writes the job, then the run.
 *   Where the store has `finishRunningJob` (PostgreSQL), a move out of
 *   `running` is one statement in the same order: its UPDATE of the job
 *   takes the job's lock, then its run is ended, then the record written.
 *   A worker's own settle (`settleRun`) is that write, guarded on its run.
 *   A move out of `stalled` (cancel, fail, resume) also ends the node rows
 *   its stalled run left running (`endStalledRunNodes`): node rows only, the
 *   run read, not locked — a stalled run takes no writes of its worker's.
 * - `claimNext` locks the job (skipping one another transaction holds) before
 *   it creates the run; `releaseRun` updates the job before the run.
 * - `stallStaleRuns` locks the jobs of stale runs first (skipping any a
 *   concurrent change holds while others are free), then the runs, then
 *   moves both. When only held ones are left it waits for them, one job at a
 *   time, holding no other lock while it waits: a holder need not end the
 *   run (a metrics write, a recoverer that dies before its COMMIT).
 * - A worker's own writes for its run (`heartbeat`, `startNode`,
 *   `finishNode`) lock only that run and read — never lock — its job, so
 *   they can wait behind a job-first transaction but never close a cycle
 *   with one.
 * - A transaction that reads a run's rows before it writes them (the
 *   poison lists the run's nodes, then ends them) takes `lockJob`, then
 *   `lockRun`, before the read: a node start in flight commits first and is
 *   read, and any later one waits and then finds the run ended.
 * - `pruneJobs` deletes jobs; their runs and nodes follow by cascade.
 * - `adoptOfferedRun` takes an offer's row (skipping one another look holds)
 *   before the job, then the run: no other path locks an offer, so the offer
 *   ahead of the job closes no cycle. `offerRun` inserts a new offer row
 *   after its caller has written the job and run.
 *
 * On SQLite every write transaction takes the database's write lock before
 * its first statement (`BEGIN IMMEDIATE`, see sqlite/transaction.ts), so no
 * two writers interleave at all. On PostgreSQL the row locks follow the
 * order above; a deadlock (40P01) or serialization failure (40001) that
 * happens anyway — a caller's own transaction mixing in other locks, a
 * serializable session — is retried as a whole transaction a bounded number
 * of times (pg/storageErrors.ts), never turned into a permanent refusal.
 *
 * Every argument is decoded at the port, the same way for every store
 * (internal/portInput.ts): a malformed id, text that breaks the text rule,
 * JSON with an unstorable key or an option out of range is a `DecodeFailure`
 * before any SQL runs. Ids are canonical (lower-case) from there on.
 */
import * as Context from "effect/Context"
import type * as DateTime from "effect/DateTime"
import type * as Duration from "effect/Duration"
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
import type { RetentionHorizon } from "../domain/RetentionHorizon.js"
import type { RecoveryPass } from "../domain/stallReason.js"
import type { NodeEndStatus, NodeExecution, NodeSummary, WorkflowRun } from "../domain/WorkflowRun.js"
import type { AlreadyExists, CorruptRow, NotFound, RunNotActive, RunTaken, StorageError } from "./StoreErrors.js"

/** Errors every read can raise: the database failed, or a row does not decode. */
export type ReadError = StorageError | CorruptRow

/**
 * The audit records of a change, from its result (see "Auditing a change"
 * above). Records or an Effect of them (to read the Clock or validate an
 * event); a `DecodeFailure` from it — or a record the port refuses — fails
 * the change, and nothing of it is written.
 */
export type Audit<A> = (result: A) => ReadonlyArray<EventRecord> | Effect.Effect<ReadonlyArray<EventRecord>, DecodeFailure>

/** Where an `Audit` made by `auditWith` keeps its records. */
export const AuditRecords: unique symbol = Symbol.for("@handshake/ai-job-model/JobStore/AuditRecords")

/**
 * The `Audit` of a change whose records do not depend on its result: they
 * are known before the change, so a store can write them in the change's own
 * statement (one round trip, no transaction). It is an `Audit` like any
 * other — a wrapper that calls it still gets the records — and the port
 * checks the records as it checks every record.
 */
export const auditWith = <A>(records: ReadonlyArray<EventRecord>): Audit<A> =>
  Object.assign((_result: A) => records, { [AuditRecords]: records })

/** The `events` option of a change whose result is `A`. */
export interface Audited<A> {
  readonly events?: Audit<A> | undefined
}

/**
 * The options of a change to a job its caller has locked (`transition`,
 * `setPinned`): its records, and its instant.
 */
export interface Change<A> extends Audited<A> {
  /**
   * The job's new `updated_at`: the instant the change's records carry, when
   * the caller chose it after the job's last change (auditEvents.ts
   * `moveInstant`: on a clock behind that change, 1 ms after the job's
   * latest record). Never written before the job's last change. Absent: the
   * store reads the clock. A store may ignore it only at the cost of a row
   * whose `updated_at` disagrees with its records.
   */
  readonly at?: DateTime.Utc | undefined
}

/** The options of a creation (`createJob`, `createJobs`, `createClaimed`): its records, and its instant. */
export interface Creation<A> extends Audited<A> {
  /**
   * The new jobs' `created_at` and `updated_at`, and their `run_after` unless
   * later (and, claimed at creation, the run's times): the instant their
   * creation's records carry (a submit reads the clock once), so no record
   * says a job was queued before it existed. A `DateTime.Utc` in the stored
   * range. Absent: the store reads the clock.
   */
  readonly at?: DateTime.Utc | undefined
}

/** A page of results and the cursor for the next one (absent on the last page). */
export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly next_cursor: string | null
}

/**
 * A page of a run's node executions (`listNodes`): those after sequence
 * number `after` (absent: from the first), at most `limit`. Both whole
 * numbers (`after` ≥ 0, `limit` ≥ 1, neither past 2^53 − 1); anything else is
 * a `DecodeFailure`. One index range read (the run's sequence key): the next
 * page starts after the last sequence of this one.
 */
export interface NodePage {
  readonly after?: number | undefined
  readonly limit?: number | undefined
}

/**
 * A page of a run's node summaries (`listNodeSummaries`): a `NodePage`, and
 * `inlineBytes`, the longest stored JSON text of a payload given inline (a
 * whole number ≥ 0; anything else is a `DecodeFailure`).
 */
export interface NodeSummaryPage extends NodePage {
  readonly inlineBytes: number
}

/**
 * A page of a job's runs (`listRuns`): those after the run `after` in the
 * listing's order (absent: from the oldest; a run id that is no run of this job: none),
 * at most `limit` (a whole number ≥ 1, not past 2^53 − 1; anything else is a
 * `DecodeFailure`). The next page starts after the last run of this one.
 */
export interface RunPage {
  readonly after?: WorkflowRunId | undefined
  readonly limit?: number | undefined
}

/** Filters for listing jobs. Ordered by `created_at`, then `job_id`; oldest first unless `order` says otherwise. */
export interface JobFilter {
  readonly states?: ReadonlyArray<JobState> | undefined
  readonly kinds?: ReadonlyArray<JobKind> | undefined
  readonly created_after?: DateTime.Utc | undefined
  readonly created_before?: DateTime.Utc | undefined
  readonly trace_id?: TraceId | undefined
  readonly workflow_run_id?: WorkflowRunId | undefined
  /**
   * `asc` (default): oldest first; `desc`: newest first. A cursor continues in
   * the order of the page that gave it: with a cursor, leave `order` out (or
   * give the same); another order fails with `DecodeFailure`.
   */
  readonly order?: "asc" | "desc" | undefined
  /** Page size: a whole number ≥ 1, default 100; more than 1000 gives 1000. */
  readonly limit?: number | undefined
  /**
   * The `next_cursor` of a previous page of jobs; anything else — a cursor of
   * the events listing, of an older format, forged — fails with
   * `DecodeFailure`. A cursor carries no filters: given other filters than its
   * page's, it continues after its key among the jobs those filters select.
   */
  readonly cursor?: string | undefined
}

/** A guarded state change (R6). `to` can never be `stalled`: that belongs to recovery (R6a). */
export interface TransitionRequest extends Change<AiJob> {
  readonly job_id: JobId
  readonly to: TransitionTarget
  /** Compare-and-set: apply only if the job is in exactly this state now. */
  readonly from?: JobState | undefined
  readonly status_reason?: string | undefined
  readonly error_message?: string | null | undefined
  /**
   * Point the job at a new workflow run (start, resume, rework): one of its own. Another job's
   * run is refused by the database (migration 0030): `StorageError`, nothing written.
   */
  readonly workflow_run_id?: WorkflowRunId | null | undefined
  /** A retry (`failed → queued`): the number of the attempt it makes next. */
  readonly attempt?: number | undefined
  /** A retry: not claimed before this instant (the backoff); stored in the one time form. */
  readonly run_after?: DateTime.Utc | undefined
}

/**
 * A running job's move out of `running` that ends its active run with the
 * same status (`finishRunningJob`). Its lifecycle record is prepared before
 * the job is read: the record's `trace_id` and `workflow_run_id`, and its
 * body's `trace_id`, `workflow_run_id` and `attempt`, are placeholders the
 * store replaces with the job row's.
 */
export interface RunningJobEnd {
  readonly job_id: JobId
  readonly to: Exclude<TransitionTarget, "queued" | "running">
  readonly status_reason?: string | undefined
  /** The job's (when given) and the run's (null when not given) error message. */
  readonly error_message?: string | null | undefined
  readonly event: EventRecord
}

/**
 * A worker's end of its own run (`settleRun`): the run's job moves out of
 * `running` — only while it is running under exactly `workflow_run_id` —
 * the run ends with the same status, the job's outputs (when given) and its
 * run's duration are written, and the move's record, in one write. The
 * record's placeholders are filled from the job row as for `RunningJobEnd`.
 */
export interface RunSettle extends RunningJobEnd {
  /** The run being settled: it must be the job's current run, and running. */
  readonly workflow_run_id: WorkflowRunId
  /** The job's new outputs; absent: left as they are. */
  readonly job_outputs?: Json | null | undefined
  /** Milliseconds added to the job's `metrics.duration_ms` (a whole number ≥ 0), saturating at the metric's bound. */
  readonly duration_ms: number
}

/**
 * A job whose stored row does not decode (`CorruptRow` naming it: a value
 * the database accepts and the domain refuses, written by another tool or
 * an old version), failed without decoding it (`failUnreadableJob`).
 */
export interface UnreadableJobFailure {
  readonly job_id: JobId
  /** What does not decode and why (the column and the reason): the job's status reason and error message, and its run's. */
  readonly reason: string
  /**
   * The job's lifecycle record to `failed`, prepared before the row is read:
   * its `trace_id` and `workflow_run_id`, and its body's `trace_id`,
   * `workflow_run_id`, `from_state` and `attempt`, are placeholders the store
   * replaces with the row's (as for `RunningJobEnd`).
   */
  readonly event: EventRecord
}

/**
 * Fields of a job that change outside the lifecycle — or with a move, in its
 * transaction (a run's duration and outputs as it ends): then `at` is that
 * move's instant, so the job's `updated_at` stays where its records are.
 */
export interface JobPatch extends Change<AiJob> {
  readonly metrics?: JobMetrics | undefined
  readonly job_outputs?: Json | null | undefined
  readonly status_reason?: string | undefined
  readonly error_message?: string | null | undefined
}

/** Filters for listing events. Ordered by `timestamp`, then `event_id`; oldest first unless `order` says otherwise. */
export interface EventFilter {
  readonly event_id?: EventId | undefined
  /** `null`: only the events that name no job (a legacy run's recovery event names its run alone). */
  readonly job_id?: JobId | null | undefined
  readonly trace_id?: TraceId | undefined
  readonly workflow_run_id?: WorkflowRunId | undefined
  readonly types?: ReadonlyArray<EventType> | undefined
  readonly since?: DateTime.Utc | undefined
  readonly until?: DateTime.Utc | undefined
  /** `asc` (default): oldest first; `desc`: newest first. With a cursor, as in `JobFilter`. */
  readonly order?: "asc" | "desc" | undefined
  /** Page size, as in `JobFilter`. */
  readonly limit?: number | undefined
  /** The `next_cursor` of a previous page of events; a jobs cursor, or any other, fails with `DecodeFailure`. Filters as in `JobFilter`. */
  readonly cursor?: string | undefined
}

/** A job claimed by a worker together with the run created for it. */
export interface Claim {
  readonly job: AiJob
  readonly run: WorkflowRun
}

/**
 * What a deterministic capability policy decides a claim from — a job's
 * kind, protocol and requested profile — with the profile its records name
 * (`profile_id`): as stored in the job's row (a legacy row's kind may be
 * the alias `term_exec`, which no template matches).
 */
export interface ClaimSubject {
  readonly job_kind: string
  readonly protocol_id: string
  readonly profile_id: string
  readonly capability_profile_id: string
}

/**
 * A subject the policy admits, and the records that audit the claim of a job
 * of it (`claimAdmitted`), prepared once for a placeholder job. In each
 * record the store replaces, in its columns and body alike, the `event_id`
 * (the claim's next given id), the `timestamp` (the claim's), the `trace_id`
 * and `job_id` (the job's) and, where the record has one, the
 * `workflow_run_id` (the new run's) and the body's `attempt` (the claimed
 * job's); everything else is written as given.
 */
export interface ClaimTemplate extends ClaimSubject {
  readonly job_kind: JobKind
  readonly records: ReadonlyArray<EventRecord>
}

/**
 * What `claimAdmitted` did: claimed the next job (with its run and its
 * records), or claimed nothing because that job's subject is not among the
 * templates — the caller decides it and asks again.
 */
export type AdmittedClaim =
  | { readonly _tag: "Claimed"; readonly claim: Claim }
  | { readonly _tag: "Undecided"; readonly subject: ClaimSubject }

/**
 * What `createClaimed` did: the job as it was created (`queued`), and its
 * claim — the job `running` under its new run — when the same write claimed it.
 */
export interface CreatedClaim {
  readonly created: AiJob
  readonly claim: Claim | null
}

/**
 * What a prune found and did (HSK-GC-003's counts). `scanned` jobs were in a
 * prunable state and older than the cutoff; each was `pruned`, spared because
 * pinned (`spared_pinned`), or spared as one of the newest kept
 * (`spared_window`): scanned = pruned + spared_pinned + spared_window.
 */
export interface PruneReport {
  readonly scanned: number
  readonly pruned: number
  readonly spared_pinned: number
  readonly spared_window: number
}

/**
 * A run moved to `stalled` by recovery: the run as the move left it (status
 * `stalled`, its stall message as `error_message`, the move's instant as
 * `updated_at`, its last heartbeat unchanged) — what `getRun` reads back —
 * and its job's trace id.
 */
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

  /**
   * Whether the fiber is inside a transaction this store joins: its own, or a
   * caller's on its database. A caller's transaction on another database is
   * not joined (internal/foreignTransaction.ts): the store commits on its own
   * there, and what it wrote is not that transaction's to decide. Absent on a
   * store that does not say (a test double): then any transaction counts.
   */
  readonly inOwnTransaction?: Effect.Effect<boolean>

  /** Runs `effect` in one transaction (nested calls become savepoints). */
  readonly transaction: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | StorageError, R>
  /**
   * Runs reads that see one committed state of the database: a change
   * another transaction commits meanwhile is seen by all of them or by none
   * (`Jobs.history`: a job, its runs and its events that agree). PostgreSQL:
   * a `REPEATABLE READ, READ ONLY` transaction; SQLite: a read transaction
   * (WAL: one snapshot). Neither makes another process's writer wait; on
   * SQLite this process's other statements wait for the connection. A write
   * inside is refused on both (`StorageError`, nothing written). Inside an
   * open transaction: that transaction's view, its writes allowed.
   */
  readonly readConsistent: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | StorageError, R>

  // Jobs

  /**
   * Stores a new job: state `queued`, zeroed metrics, fresh `job_id`/`trace_id` unless given.
   * No capability check here: `Jobs` checks the policy at submit and again when a job is claimed.
   */
  readonly createJob: (job: NewAiJob, options?: Creation<AiJob>) => Effect.Effect<AiJob, AlreadyExists | DecodeFailure | StorageError>
  /**
   * Stores new jobs as `createJob` does, all or nothing, in one write (one
   * multi-row INSERT on PostgreSQL; on SQLite multi-row INSERTs, in one
   * transaction unless one statement is all there is), with the records
   * `events` gives for the jobs it stored, in the same transaction. Returns
   * the jobs in the order given. A job id that is taken — stored already, or
   * given twice in `jobs` — fails with
   * `AlreadyExists` naming it, and a job that does not decode with
   * `DecodeFailure` (its index in the path): either way nothing is written.
   * An empty list writes nothing, calls no `events`, and returns `[]`.
   */
  readonly createJobs: (
    jobs: ReadonlyArray<NewAiJob>,
    options?: Creation<ReadonlyArray<AiJob>>
  ) => Effect.Effect<ReadonlyArray<AiJob>, AlreadyExists | DecodeFailure | StorageError>
  readonly getJob: (jobId: JobId) => Effect.Effect<AiJob, NotFound | DecodeFailure | ReadError>
  /**
   * Reads a job and holds its row until the surrounding `transaction` ends:
   * the first step of every transaction that changes a job and its run (see
   * the lock order above), so what it reads is what the transaction changes.
   * Outside a transaction it is a plain read.
   */
  readonly lockJob: (jobId: JobId) => Effect.Effect<AiJob, NotFound | DecodeFailure | ReadError>
  readonly listJobs: (filter?: JobFilter) => Effect.Effect<Page<AiJob>, ReadError | DecodeFailure>
  /**
   * The ids an abbreviated id may stand for (see domain/IdAbbreviation.ts):
   * ids that start with it, and, when it has 8 hex digits or more, ids that
   * end with it (the short ids tables print). In id order, at most `limit`
   * (default 10, at most 1000); both are index searches. A malformed
   * abbreviation fails with `DecodeFailure`.
   */
  readonly findJobIds: (
    abbreviation: string,
    options?: { readonly limit?: number | undefined }
  ) => Effect.Effect<ReadonlyArray<JobId>, ReadError | DecodeFailure>
  /**
   * Moves a job to `to` only if its current state allows it (and equals `from`
   * when given), in one guarded UPDATE. A lost race is `IllegalTransition`
   * naming the state actually found; never an overwrite.
   */
  readonly transition: (request: TransitionRequest) => Effect.Effect<AiJob, NotFound | IllegalTransition | DecodeFailure | ReadError>
  readonly updateJob: (jobId: JobId, patch: JobPatch) => Effect.Effect<AiJob, NotFound | DecodeFailure | ReadError>
  /**
   * Pins a job (pruning never deletes it, R18) or unpins it. Only a change is
   * written: the flag, `updated_at` and `events`, in one guarded UPDATE; a job
   * already so is returned as it is, with no events written.
   */
  readonly setPinned: (jobId: JobId, pinned: boolean, options?: Change<AiJob>) => Effect.Effect<AiJob, NotFound | DecodeFailure | ReadError>

  /**
   * Fails a job whose row does not decode, reading only its state, run,
   * trace id and attempt — so a claim that met such a row never leaves it
   * `running` with nobody working it, nor at the head of the queue for ever.
   * In one transaction, the job locked first: a `running` job fails with its
   * active run; a `queued` one is claimed and failed at once (a run created
   * `failed`); either way the job and the run carry `reason`, and the record
   * is written with them. Returns that run. Null, and nothing written, when
   * the job is in any other state (someone else ended it); a missing job is
   * `NotFound`.
   */
  readonly failUnreadableJob: (
    failure: UnreadableJobFailure
  ) => Effect.Effect<WorkflowRunId | null, NotFound | DecodeFailure | StorageError>

  // Workflow runs

  /**
   * Creates a `running` run for the job, its times at `at` (the move that
   * begins it) or, absent, the clock's now — or at the job's last change if
   * that is later, as a claim's: a run never begins before its job. Its first
   * heartbeat is the clock's reading as it is, never lifted: liveness, which
   * recovery compares with its own clock.
   */
  readonly createRun: (jobId: JobId, options?: Creation<WorkflowRun>) => Effect.Effect<WorkflowRun, NotFound | DecodeFailure | StorageError>
  readonly getRun: (runId: WorkflowRunId) => Effect.Effect<WorkflowRun, NotFound | DecodeFailure | ReadError>
  /**
   * Reads a run and holds it until the surrounding `transaction` ends,
   * changing nothing (no heartbeat, no `updated_at`): a node start or finish,
   * a heartbeat or an end of that run by anyone else waits for the
   * transaction, then sees what it did. For a transaction that reads a run's
   * state and then writes from it — the poison lists the run's nodes, then
   * ends them and the run — after `lockJob` (the lock order above). On
   * PostgreSQL it is the row lock an UPDATE of the run takes
   * (`FOR NO KEY UPDATE`: it blocks every writer of the run, and no
   * foreign-key check of a new node row); on SQLite, which has no row
   * locks, it is the database's write lock, which the store's transactions
   * take at their `BEGIN IMMEDIATE` and which it takes itself inside a
   * transaction begun any other way. A missing run is `NotFound`. Outside a
   * transaction it is a plain read.
   */
  readonly lockRun: (runId: WorkflowRunId) => Effect.Effect<WorkflowRun, NotFound | DecodeFailure | ReadError>
  /**
   * Runs of one job, oldest first (by creation, then id). With `options`, a
   * page of them (`RunPage`): a job's runs are unbounded (every retry, resume
   * and release makes one).
   */
  readonly listRuns: (jobId: JobId, options?: RunPage) => Effect.Effect<ReadonlyArray<WorkflowRun>, DecodeFailure | ReadError>
  /**
   * Ends a `running` run with a final status. A run that is no longer running
   * fails with `RunNotActive`. `stalled` is recovery's alone (R6a), and
   * `queued`/`running` end nothing: asked for any of them (past the types),
   * every store refuses with `IllegalTransition` naming the run's job and
   * status, and changes nothing; a status that is no job state at all is a
   * `DecodeFailure`.
   */
  readonly finishRun: (
    runId: WorkflowRunId,
    status: Exclude<TransitionTarget, "queued" | "running">,
    options?: Audited<WorkflowRun> & { readonly error_message?: string | null | undefined }
  ) => Effect.Effect<WorkflowRun, NotFound | RunNotActive | IllegalTransition | DecodeFailure | ReadError>
  /**
   * Writes a heartbeat at now, only while the run is its job's active run
   * (the run `running`, its job `running` under it); otherwise
   * `RunNotActive` and nothing is written. Called outside a transaction, its
   * commit does not wait for the WAL flush (PostgreSQL: `synchronous_commit`
   * off; SQLite: `synchronous = NORMAL` for that statement): a crash a moment
   * later may lose the beat, never anything else.
   */
  readonly heartbeat: (runId: WorkflowRunId) => Effect.Effect<WorkflowRun, NotFound | RunNotActive | DecodeFailure | ReadError>
  /**
   * Begins running a run (`Jobs.run`): in one statement, while the run is
   * `running` and nobody has taken it — no earlier take, no claim with
   * `take` (a pool's), no pool's adoption of its offer, no heartbeat
   * (migration 0018) — marks it taken and writes
   * its heartbeat at now. Taken already: `RunTaken`; no longer running:
   * `RunNotActive` (its status); nothing is written either way. Concurrent
   * takes of one run: exactly one succeeds.
   */
  readonly takeRun: (runId: WorkflowRunId) => Effect.Effect<WorkflowRun, NotFound | RunNotActive | RunTaken | DecodeFailure | ReadError>
  /**
   * Hands a running job back to the queue: the reserved release edge
   * (`Lifecycle.releaseTransition`, running → queued). In one transaction,
   * only while `runId` is its job's active run: the job goes to `queued` with
   * `reason` as its status reason, the run ends `failed` with `reason` as its
   * error message, and `events` are written, at `at` when given (the job's
   * and the run's `updated_at`, see `Change`). Otherwise `RunNotActive`, and
   * nothing changes. The next claim runs the job under a new run (R6c).
   */
  readonly releaseRun: (
    runId: WorkflowRunId,
    options: Change<AiJob> & { readonly reason: string }
  ) => Effect.Effect<AiJob, NotFound | RunNotActive | DecodeFailure | ReadError>

  /**
   * Optional (both stores have it): a running job moves to `end.to` and its
   * active run ends with the same status, with the move's lifecycle record,
   * in one write (one statement on PostgreSQL, one transaction on SQLite) —
   * the job locked first (the lock order above), its
   * move a compare-and-set on `running` under its run. Null, and nothing
   * written, when the job is not running under a run (missing, or in any
   * other state), when its run has a node execution running, or (PostgreSQL)
   * when another transaction holds the run: the caller takes the general
   * path (`lockJob`, then `transition` and `finishRun`), which tells those
   * cases apart, and `Jobs` ends the open nodes there. The move
   * (the job's and run's `updated_at`, the record) is written at the
   * record's timestamp unless the job changed at or after it — a claim that
   * committed after the caller built the record; then after the job's last
   * change and latest record, as `claimAdmitted`.
   */
  readonly finishRunningJob?: (end: RunningJobEnd) => Effect.Effect<AiJob | null, DecodeFailure | ReadError>

  /**
   * Optional (both stores have it): a worker's run ends (`RunSettle`) in one
   * write — one statement on PostgreSQL, which concurrent settles and
   * `finishRunningJob`s outside a transaction share (group commit); one
   * write transaction on SQLite. The move is guarded in that write: only if
   * the job is `running` under `workflow_run_id` and the run is running.
   * Otherwise nothing is written and it fails as a heartbeat does:
   * `RunNotActive` naming the run's status as found (recovery stalled it, an
   * operator cancelled or released it), or `NotFound` for a missing run. A
   * target that is no move out of `running` (`stalled` is recovery's alone)
   * is an `IllegalTransition`; a malformed request a `DecodeFailure`.
   */
  readonly settleRun?: (
    settle: RunSettle
  ) => Effect.Effect<AiJob, NotFound | RunNotActive | IllegalTransition | DecodeFailure | ReadError>

  /**
   * Optional (the PostgreSQL store on its own pool has it): cancels, on the
   * server, the store's statements in flight that write the event record
   * `event_id` — an id fresh to its writer, carried as a parameter of its own
   * or as a group-commit row's record id; never matched inside another value,
   * so another caller's statement that mentions it (a job's inputs, a reason)
   * is not cancelled. A worker pool's drain cuts its run's end by its end
   * record when it waits on a lock past the drain time (R8), and a claim
   * still waiting at the drain's end by one of its event ids. A cancelled
   * statement fails and rolls back whole; one that has already ended keeps
   * what it did. A cancelled group-commit statement rolls back its other
   * members' writes too: each of them runs again alone, as after any shared
   * failure that may be one member's — the named one as well, so its writer
   * cancels again until its write has ended. Resolves once the cancels are
   * delivered (bounded by the connect timeout, 5 s at most).
   */
  readonly cancelWritesOf?: (event_id: string) => Effect.Effect<void>

  // Node executions (HSK-WF-001)

  /**
   * Starts a node execution (`running`), taking the run's next sequence
   * number — only while the run is its job's active run; otherwise
   * `RunNotActive` and nothing is written. `id`, when given, is the node's
   * (a fresh one otherwise): its writer knows it before the write, so a
   * start written again after its answer was lost is found by it.
   */
  readonly startNode: (input: {
    readonly id?: NodeExecutionId | undefined
    readonly workflow_run_id: WorkflowRunId
    readonly node_id: string
    readonly node_type: string
    readonly input_payload?: Json | null | undefined
  }) => Effect.Effect<NodeExecution, NotFound | RunNotActive | DecodeFailure | ReadError>
  /**
   * Records how a node execution ended — only while its run is its job's
   * active run; otherwise `RunNotActive` and nothing is written (no node
   * history goes into a run that recovery or an operator took away).
   */
  readonly finishNode: (nodeId: NodeExecutionId, outcome: {
    readonly status: NodeEndStatus
    readonly output_payload?: Json | null | undefined
    readonly error_message?: string | null | undefined
  }) => Effect.Effect<NodeExecution, NotFound | RunNotActive | DecodeFailure | ReadError>
  /**
   * Ends the node executions a `stalled` run left `running`, with `status`
   * (a status that finishes a node, so `finished_at` is stamped now, or at
   * the node's start or its run's stall if either is later) and
   * `error_message`, in one statement guarded on the run being `stalled`:
   * what an operator's move of its job out of `stalled` (cancel, fail, a
   * resume under a new run) does in its own transaction, after `lockJob`
   * (the lock order above). Recovery's stall leaves them as they were; the
   * run's worker can write nothing more (`RunNotActive`), so nothing else
   * would ever end them. A run in any other status, or none, ends nothing.
   * The run's own status stays `stalled`. Returns the nodes ended, in
   * sequence order.
   */
  readonly endStalledRunNodes: (runId: WorkflowRunId, outcome: {
    readonly status: Exclude<NodeEndStatus, "awaiting_validation" | "awaiting_user">
    readonly error_message: string
  }) => Effect.Effect<ReadonlyArray<NodeExecution>, DecodeFailure | ReadError>
  /**
   * Node executions of a run in sequence order. With `options`, a page of
   * them (`NodePage`): a run's nodes are unbounded.
   */
  readonly listNodes: (runId: WorkflowRunId, options?: NodePage) => Effect.Effect<ReadonlyArray<NodeExecution>, DecodeFailure | ReadError>
  /**
   * A page of a run's node executions as `listNodes` reads it, for a summary
   * view: a payload whose stored JSON text is longer than
   * `options.inlineBytes` bytes is left out (null, its length in
   * `*_payload_bytes`). The length is taken in SQL, so a payload left out
   * never leaves the database. PostgreSQL measures jsonb's text form (a
   * space after each `:` and `,`), SQLite the text it stores.
   */
  readonly listNodeSummaries: (runId: WorkflowRunId, options: NodeSummaryPage) => Effect.Effect<ReadonlyArray<NodeSummary>, DecodeFailure | ReadError>

  // Workers and recovery

  /**
   * Atomically takes the next queued job (of the given kinds, if any) whose
   * `run_after` has come — the highest `priority`, then the one eligible
   * longest, then the oldest — creates its run and moves the job to
   * `running`. Safe across processes: no job is claimed twice (SKIP LOCKED on
   * PostgreSQL). `events` gets the claim (when there is one). The claim's
   * instant is the clock's, or the job's last change if that is later (the
   * move that queued it can commit after the clock was read). With `take`
   * the claimer runs the run itself (a worker pool): the claim marks it taken
   * as `takeRun` does, so no `Jobs.run` begins it a second time; without it
   * the run is left for its caller's `Jobs.run` to take.
   */
  readonly claimNext: (options?: {
    readonly kinds?: ReadonlyArray<JobKind> | undefined
    readonly events?: Audit<Claim> | undefined
    readonly take?: boolean | undefined
  }) => Effect.Effect<Claim | null, DecodeFailure | ReadError>
  /**
   * Optional (both stores have it): `claimNext` in one statement (on SQLite,
   * one transaction with no records built per claim), for a caller
   * whose audit records are a function of the claimed job's subject alone.
   * Locks the job `claimNext` would take (same order, same skipping); only
   * if its subject is among `templates` does it create the run, move the job
   * to running and write that template's records (see `ClaimTemplate`),
   * using `event_ids` in order — one per record at least: fewer is a
   * `DecodeFailure`. Otherwise it claims nothing and answers `Undecided`
   * with the job's subject: a job is never passed over for a later one.
   * Null when no job is eligible. A taken event id fails it, and nothing is written.
   * The claim is written at the clock's instant unless the job changed at or
   * after it; then after the job's last change and latest record, so the job's
   * history lists its moves in the order they committed (moveInstant.ts).
   * `take` as `claimNext`'s.
   */
  readonly claimAdmitted?: (options: {
    readonly kinds?: ReadonlyArray<JobKind> | undefined
    readonly templates: ReadonlyArray<ClaimTemplate>
    readonly event_ids: ReadonlyArray<EventId>
    readonly take?: boolean | undefined
  }) => Effect.Effect<AdmittedClaim | null, DecodeFailure | ReadError>
  /**
   * Optional (both stores have it): eager dispatch (issue 16, pickup) — a
   * job created and, in the same write (one statement on PostgreSQL, one
   * transaction on SQLite), claimed for a worker of this process that waits
   * for work of `kinds`: one commit instead of the submit's and the claim's.
   * Stores `job` exactly as `createJob` does, with `events` (its creation's
   * records). It also claims it — creates the run `claim.run_id`, moves the
   * job to `running` and writes `claim.records` — only when all hold:
   * - the call is outside any `transaction` (a claim handed to a worker
   *   before the caller's commit could run a job that is then rolled back);
   * - the job is eligible at the write's instant (`run_after` not after it)
   *   and of `kinds` (any kind when absent);
   * - no queued job of `kinds` eligible at that instant comes before it in
   *   `claimNext`'s order (higher priority, eligible longer, older), whether
   *   another claimer holds it or not: no job is taken out of turn.
   * Otherwise it is `createJob` exactly, and `claim` is null. Created and
   * claimed share one instant: the job's `created_at` and `updated_at`, the
   * run's times. Fails as `createJob` does, or with `AlreadyExists` naming
   * the run when `claim.run_id` is taken, and then writes nothing. `take`
   * as `claimNext`'s (the worker it is claimed for runs it: a pool passes it).
   */
  readonly createClaimed?: (job: NewAiJob, options: {
    readonly events: ReadonlyArray<EventRecord>
    /** As `Creation.at`: the job's, its run's and the claim's instant. Absent: the store reads the clock. */
    readonly at?: DateTime.Utc | undefined
    readonly kinds?: ReadonlyArray<JobKind> | undefined
    readonly take?: boolean | undefined
    readonly claim: { readonly run_id: WorkflowRunId; readonly records: ReadonlyArray<EventRecord> }
  }) => Effect.Effect<CreatedClaim, AlreadyExists | DecodeFailure | StorageError>
  /**
   * Optional (both stores have it): offers `runId` — its job's new running
   * run, which no worker holds — to worker pools (`Jobs.resume`, `start` or
   * `rework` with `handTo: "workers"`), in the caller's transaction when one
   * is open. Offering a run twice keeps its first offer. `NotFound` when there
   * is no such run.
   */
  readonly offerRun?: (runId: WorkflowRunId) => Effect.Effect<void, NotFound | DecodeFailure | StorageError>
  /**
   * Optional (both stores have it): takes the oldest offered run (of `kinds`,
   * any kind when absent) that is still its job's running run — for a worker
   * pool, which then runs the job. Deletes the offer, sets the run's
   * heartbeat to now and returns the job and run, in one transaction: across
   * processes, an offer is taken once. Offers whose run is no longer its
   * job's running run (recovered, cancelled, ended) or that someone already
   * began running (`takeRun`) are deleted on the way, never taken. The run is
   * marked taken (migration 0018) — unless `leaveUntaken`: the claim goes to
   * a caller who runs it with `Jobs.run`, whose take marks it. Null when
   * there is none. `adopted`, when given, is called with the claim once the
   * adoption has committed, before the call returns, with no interrupt
   * between: a caller interrupted after the commit holds the run by it, and
   * a call that rolled back never calls it. (Inside a caller's transaction it
   * is called once the adoption's statements ran: that transaction decides.)
   */
  readonly adoptOfferedRun?: (options?: {
    readonly kinds?: ReadonlyArray<JobKind> | undefined
    readonly leaveUntaken?: boolean | undefined
    readonly adopted?: ((claim: Claim) => void) | undefined
  }) => Effect.Effect<Claim | null, DecodeFailure | ReadError>
  /** Running runs whose last heartbeat is before `heartbeatBefore`, oldest heartbeat first. */
  readonly findStaleRuns: (options: {
    readonly heartbeatBefore: DateTime.Utc
    readonly limit?: number | undefined
  }) => Effect.Effect<ReadonlyArray<WorkflowRun>, DecodeFailure | ReadError>
  /**
   * Startup recovery's one write (R9): in one transaction, takes up to `limit`
   * running runs last heard from before `heartbeatBefore` whose job no other transaction holds, moves each run
   * and its job to `stalled` (the job only while it is running under that
   * run), and writes the records `events` gives for the runs it moved — so
   * each run's `workflow_recovery` event commits with its stall, exactly
   * once. Runs whose job another transaction holds are skipped while others
   * can be moved; with none movable, it waits for a holder rather than
   * return nothing, so an empty result means no stale run is left (what a
   * scan that loops until then relies on). Each run's stall is stamped at the
   * clock's reading, or at its job's or its run's last change if later (a
   * change made on a clock ahead is never followed by a stall dated before
   * it); whether a run is stale is still its heartbeat against
   * `heartbeatBefore`. Returns the runs it moved, as stored after the move (status
   * `stalled`, the stall message, the move's `updated_at`; their last
   * heartbeat is kept), with their job's trace id, so building those
   * events reads no job (no N+1). Concurrent calls never move a run twice;
   * `events` is not called when nothing moved. A run whose job is not
   * running under it (a reference database's half-finished move: the job
   * completed or still queued) is stalled alone, and its record names the run
   * but not the job, which did not move (`job_id` absent).
   */
  readonly stallStaleRuns: (options: {
    /** A run is stale when its last heartbeat is before this instant (the service's now minus its threshold). */
    readonly heartbeatBefore: DateTime.Utc
    /**
     * The threshold that bound was made from, for the record only: each
     * stalled run's and job's reason names it, as R9's does. It chooses no row.
     */
    readonly threshold: Duration.Duration
    readonly limit: number
    readonly events?: Audit<ReadonlyArray<StalledRun>> | undefined
    /**
     * Also write R9's `workflow_recovery` record for each run moved — actor
     * `system`, the run's and job's ids, the job's trace id, `from_state`
     * running, `to_state` stalled, `reason` (the run's new error message),
     * `last_heartbeat_ts`, `threshold_secs` — built by the database in the
     * stall's own statements, with no JavaScript per run (issue 16): the
     * records `recoveryEvent` would build, timestamped at the stall. Needs a
     * threshold of whole seconds (the event's `threshold_secs`); otherwise
     * `DecodeFailure`. Default false. `events`, when given too, adds its own.
     */
    readonly recordRecovery?: boolean | undefined
    /**
     * The recovery pass stalling the runs, which each reason names ("stalled
     * (on-demand recovery: heartbeat timeout): …"). Default `startup`, the
     * reference's words. It chooses no row.
     */
    readonly pass?: RecoveryPass | undefined
  }) => Effect.Effect<ReadonlyArray<StalledRun>, DecodeFailure | ReadError>
  /**
   * Optional (both stores have it): startup recovery's finish of a stall the
   * reference implementation left half-done (its recovery writes the run,
   * then the job, then the event, each on its own: a crash between them
   * leaves a job `running` under a `stalled` run, which no scan of running
   * runs finds and no worker claims). In one transaction, each such job moves
   * to `stalled` as `stallStaleRuns` would have moved it — reason, status
   * reason, instant — with R9's `workflow_recovery` record naming the job and
   * its run; the run is left as the reference stalled it. Concurrent calls
   * move each job once. Returns those runs, as stored, with their job's trace
   * id. One statement's scan of the running jobs: for startup, not a sweep.
   */
  readonly stallJobsUnderStalledRuns?: (options: {
    /** The threshold the records and reasons name, as `stallStaleRuns`'s: whole seconds. */
    readonly threshold: Duration.Duration
    /** The pass the reasons name, as `stallStaleRuns`'s. Default `startup`. */
    readonly pass?: RecoveryPass | undefined
  }) => Effect.Effect<ReadonlyArray<StalledRun>, DecodeFailure | ReadError>

  // Pruning (R18)

  /**
   * Deletes jobs in a prunable state (`Lifecycle.prunableStates`: terminal or
   * failed) last updated before `olderThan`, with their runs and nodes; never
   * pinned ones, and never the newest `keepNewest` unpinned prunable jobs. One
   * transaction, with the records `events` gives for its counts. With
   * `dryRun`, counts without deleting, and writes no records.
   *
   * With `batchSize`, deletes at most that many of those jobs, the oldest
   * first, so a caller can prune in short transactions (the Janitor does). A
   * full batch may leave more to prune: its counts are only the jobs it
   * pruned (scanned = pruned, nothing spared). A short batch is the last: it
   * counts the jobs it spared too, so the batches' counts add up to one
   * prune's. A dry run ignores `batchSize`.
   */
  readonly pruneJobs: (options: {
    readonly olderThan: DateTime.Utc
    readonly keepNewest: number
    readonly batchSize?: number | undefined
    readonly dryRun?: boolean | undefined
    readonly events?: Audit<PruneReport> | undefined
  }) => Effect.Effect<PruneReport, DecodeFailure | StorageError>

  // Flight Recorder sink

  /**
   * Appends event records tied to no change (the Flight Recorder's `record`); all or nothing.
   * Each body must read back as an event (`FlightRecorder.list`'s decode: a current shape or a
   * 0.1.0 one, no key beyond it) whose envelope is the record's own, else the call is a
   * `DecodeFailure` naming the record's index and field and writes nothing: a row no listing can
   * decode would fail every listing that met it. A change's `events` are held to the same rule.
   */
  readonly appendEvents: (events: ReadonlyArray<EventRecord>) => Effect.Effect<void, AlreadyExists | DecodeFailure | StorageError>
  readonly listEvents: (filter?: EventFilter) => Effect.Effect<Page<EventRecord>, ReadError | DecodeFailure>
  /**
   * Deletes up to `batchSize` events older than `before` in one short
   * transaction and returns how many it deleted. The only way events are ever
   * deleted: the database refuses any other UPDATE or DELETE. A `before` later
   * than the database's clock purges up to that clock only: no grant licenses
   * events newer than its transaction (migration 0028). On PostgreSQL it needs
   * INSERT and DELETE on `flight_recorder_retention_grants`. `window` is the
   * retention window the caller applied (its own now minus `before`): a batch
   * that deletes events records it with the horizon, as the policy's window,
   * whatever the database's clock says.
   */
  readonly purgeEventsBatch: (options: {
    readonly before: DateTime.Utc
    readonly batchSize: number
    readonly window?: Duration.Duration | undefined
  }) => Effect.Effect<number, DecodeFailure | StorageError>
  /**
   * How far retention has purged (FR-EVT-004): the newest cutoff of a
   * `purgeEventsBatch` that deleted events, and when it ran — written in that
   * batch's transaction (migration 0031), with the window and cutoff it was
   * asked for (0033). `null` when no purge since 0031 has
   * deleted an event. A job that started before the cutoff may have lost
   * events to it (`evidenceMissing`, domain/RetentionHorizon.ts).
   */
  readonly retentionHorizon: Effect.Effect<RetentionHorizon | null, ReadError>
}>() {}
