/**
 * Group commit on PostgreSQL (issue 16): concurrent workers' submits,
 * claims, heartbeats, completions and settles share statements — and commits — instead of
 * each paying its own (internal/coalesce.ts says how a batch forms: no timer,
 * at one worker every statement runs alone as before). A call made inside a
 * caller's transaction is never coalesced: it must run on that transaction's
 * connection.
 */
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import type { WorkflowRunId } from "../../domain/Ids.js"
import * as Coalesce from "../internal/coalesce.js"
import type { JobStore, RunningJobEnd, RunSettle } from "../JobStore.js"
import { type Claimer, makeClaimAdmitted } from "./claim.js"
import type { PgContext } from "./context.js"
import { createEach, type NewJobRequest } from "./createBatch.js"
import { beatRuns } from "./beatBatch.js"
import { finishRunningJobs } from "./finishBatch.js"
import { makeCreateJob } from "./jobs.js"
import { leavesRunning } from "./runs.js"
import type { CorruptRow } from "../StoreErrors.js"
import { sharedStorageError } from "./errors.js"
import { byTransaction } from "./transaction.js"

type Service = Context.Tag.Service<JobStore>
type Coalesced = "createJob" | "finishRunningJob" | "settleRun" | "claimAdmitted" | "heartbeat"
type Method<K extends Coalesced> = NonNullable<Service[K]>
type Success<K extends Coalesced> = Effect.Effect.Success<ReturnType<Method<K>>>
type Failure<K extends Coalesced> = Effect.Effect.Error<ReturnType<Method<K>>>

/**
 * Statements of one kind in flight at once: while one runs, later callers
 * line up and the next statement takes them all. One gave the fewest
 * statements and the least client CPU per job at 16 workers (1.36 statements
 * a job against 2.06 with two, 4.05 alone; bench/coalesceCount.ts), and at 4
 * workers was within the noise of sending each call alone; the pool keeps
 * its other connections for everything else.
 */
export const SLOTS = 1
/** Most callers one statement serves. */
export const MAX_BATCH = 64
/**
 * From this many callers in the store's coalesced calls, a statement that
 * served this many resumes them in two halves (internal/coalesce.ts
 * `splitAt`): 16 workers run as two groups of ~8, one's statement out while
 * the other's JavaScript runs. At 4 workers (and 8) nothing changes.
 */
export const SPLIT_AT = 10

/**
 * The methods coalesced, in place of `single`'s: outside a transaction, concurrent calls share statements.
 * Every call that reaches a `Coalesce` runner checked once that no transaction is open
 * (`outsideTransactions`), so what it runs alone (`outside`) looks no more.
 */
export const makeCoalescedMethods = (
  context: PgContext,
  single: { readonly [K in Coalesced]: Method<K> },
  /** The same methods for a caller outside any transaction (runs.ts `outside`): what a call served alone here runs. */
  outside: { readonly [K in "heartbeat" | "finishRunningJob" | "settleRun"]: Method<K> }
): { readonly [K in Coalesced]: Method<K> } => {
  /** `coalesced` outside a transaction, `alone` inside one. */
  const outsideTransactions = <I, A, E>(alone: (input: I) => Effect.Effect<A, E>, coalesced: (input: I) => Effect.Effect<A, E>) =>
  (input: I): Effect.Effect<A, E> => byTransaction(() => alone(input), () => coalesced(input))

  /** The requests whose job id comes first in the batch; a later one of the same id runs alone, after (→ `AlreadyExists`). */
  const firstOfEach = <I>(inputs: ReadonlyArray<I>, id: (input: I) => string | undefined) => {
    const seen = new Set<string>()
    return inputs.map((input) => {
      const key = id(input)
      if (key === undefined) return true
      if (seen.has(key)) return false
      seen.add(key)
      return true
    })
  }
  /** `settle` run on the first of each id only; every other input, and any the statement left unsettled (undefined), runs alone. */
  const distinct = <I, A, E>(
    id: (input: I) => string | undefined,
    settle: (inputs: ReadonlyArray<I>) => Effect.Effect<ReadonlyArray<A | undefined>, E>
  ) =>
  (inputs: ReadonlyArray<I>) => {
    const first = firstOfEach(inputs, id)
    return Effect.map(settle(inputs.filter((_, i) => first[i])), (settled) => {
      let next = 0
      return inputs.map((_, i) => first[i] ? settled[next++] ?? Coalesce.alone : Coalesce.alone)
    })
  }

  // A shared statement that lost its connection (or met a shutdown, a full disk) fails every member with
  // that error at once (`failsEvery`): run again alone, each would only meet it again. A timeout is not
  // such a failure: the wait that ran out may be one member's row (errors.ts `isNoRowsFault`).
  // The statements in flight across the coalesced kinds: while another kind's is, a free slot waits a turn for company.
  const activity = Coalesce.activity()
  const newJobs = createEach(context)
  // A submit served alone (every one at one worker): the store's createJob for a caller outside any transaction.
  const createAlone = makeCreateJob(context).outside
  const createJob = Coalesce.make<NewJobRequest, Success<"createJob">, Failure<"createJob">>({
    slots: SLOTS,
    maxBatch: MAX_BATCH,
    activity,
    splitAt: SPLIT_AT,
    failsEvery: sharedStorageError("JobStore.createJob"),
    one: ({ input, options }) => createAlone(input, options),
    // A job whose id is taken is left out of the statement's rows, and its caller hears AlreadyExists alone.
    many: distinct(({ input }) => input.job_id, newJobs)
  })

  const finishEach = finishRunningJobs(context)
  const finishRunningJob = Coalesce.make<RunningJobEnd, Success<"finishRunningJob">, Failure<"finishRunningJob">>({
    slots: SLOTS,
    maxBatch: MAX_BATCH,
    activity,
    splitAt: SPLIT_AT,
    failsEvery: sharedStorageError("JobStore.finishRunningJob"),
    one: outside.finishRunningJob,
    // A second end of the same job runs alone, after: it finds the job moved (null → the general path).
    // So does an end the statement did not move (its job not running, or locked by another transaction).
    many: distinct((end) => end.job_id, finishEach)
  })

  // A worker's settle: the same statement, guarded on its run. One the statement did not move
  // (its run no longer the job's active run, its job locked by another transaction) runs alone, to say why.
  const settleRun = Coalesce.make<RunSettle, Success<"settleRun">, Failure<"settleRun">>({
    slots: SLOTS,
    maxBatch: MAX_BATCH,
    activity,
    splitAt: SPLIT_AT,
    failsEvery: sharedStorageError("JobStore.settleRun"),
    one: outside.settleRun,
    many: distinct((settle) => settle.job_id, finishEach)
  })

  const { claimAlone, claimEach } = makeClaimAdmitted(context, true)
  const templateIds = new WeakMap<object, number>()
  let templateLists = 0
  const templatesId = (templates: object) => {
    let id = templateIds.get(templates)
    if (id === undefined) templateIds.set(templates, id = ++templateLists)
    return id
  }
  // Each member's outcome as a value: one claimed row that does not decode fails its own claimer only.
  const claimAdmitted = Coalesce.make<Claimer, Either.Either<Success<"claimAdmitted">, CorruptRow>, Failure<"claimAdmitted">>({
    slots: SLOTS,
    maxBatch: MAX_BATCH,
    activity,
    splitAt: SPLIT_AT,
    failsEvery: sharedStorageError("JobStore.claimAdmitted"),
    one: claimAlone,
    many: claimEach,
    // Claimers share a statement when they take the same kinds under the same templates (Jobs passes one list per memo).
    key: (claimer) => `${templatesId(claimer.templates)}:${claimer.kinds?.join(",") ?? "*"}`
  })

  const beatEach = beatRuns(context)
  const heartbeat = Coalesce.make<WorkflowRunId, Success<"heartbeat">, Failure<"heartbeat">>({
    slots: SLOTS,
    maxBatch: MAX_BATCH,
    activity,
    splitAt: SPLIT_AT,
    failsEvery: sharedStorageError("JobStore.heartbeat"),
    one: outside.heartbeat,
    // A run not beaten (missing, ended, no longer its job's, held by another transaction) runs alone, to say which.
    many: (runIds) => Effect.map(beatEach(runIds), (beaten) => beaten.map((run) => run ?? Coalesce.alone))
  })

  return {
    createJob: (input, options) =>
      byTransaction(() => single.createJob(input, options), () => createJob({ input, options })),
    finishRunningJob: outsideTransactions(
      single.finishRunningJob,
      // A target that is no move out of `running` is answered without a statement, as alone.
      (end) => leavesRunning(end.to) ? finishRunningJob(end) : single.finishRunningJob(end)
    ),
    settleRun: outsideTransactions(
      single.settleRun,
      // A target that is no move out of `running` is refused without a statement, as alone.
      (settle) => leavesRunning(settle.to) ? settleRun(settle) : single.settleRun(settle)
    ),
    claimAdmitted: outsideTransactions(single.claimAdmitted, (options) =>
      Effect.flatMap(claimAdmitted({ kinds: options.kinds, templates: options.templates, event_ids: options.event_ids, take: options.take }), (outcome) => outcome)),
    heartbeat: outsideTransactions(single.heartbeat, heartbeat)
  }
}
