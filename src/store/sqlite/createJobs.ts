/**
 * Batch create on SQLite (issue 16): multi-row INSERTs (prepared once per
 * batch size and cached by the client) and the jobs' events, all or nothing,
 * with one commit for the whole batch, where `createJob` × n would take n.
 *
 * A batch without events that fits one statement is that one statement on
 * its own, without a transaction around it (as `createJob` runs its lone
 * INSERT): SQLite makes a single statement atomic. Inside a transaction a
 * statement that writes many rows opens a statement journal, so that it can
 * undo itself alone; for 100 jobs on our schema (nine indexes) the journal
 * outgrows its memory and goes to a temporary file (strace: one file made
 * and unlinked, ~90 page writes, per statement): ~7 µs of CPU a job
 * (bench/createBatchPieces.ts). A statement on its own needs none: its
 * failure rolls back its implicit transaction.
 */
import type { SqlError } from "@effect/sql/SqlError"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type { AiJob, NewAiJob } from "../../domain/AiJob.js"
import { auditRecords } from "../internal/audit.js"
import { newJob } from "../internal/newRows.js"
import type { Creation, JobStore } from "../JobStore.js"
import { takenInBatch } from "../internal/firstTaken.js"
import type { AlreadyExists } from "../StoreErrors.js"
import { type Exec, insertTexts, type SqliteContext } from "./context.js"
import { sqliteCode, storageErrors } from "./errors.js"
import { type Bindable, JOB_COLUMNS, pushJobValues } from "./rowCodec.js"

type Service = JobStore["Type"]

// 25 columns per row: 500 rows stay far below SQLite's bound-parameter limit (32766).
const JOBS_PER_STATEMENT = 500

/**
 * The INSERT of `rows` jobs, its text made once per batch size (the client
 * prepares and caches each text): run through `exec` with the hand-built row
 * values (rowCodec.ts), without @effect/sql compiling a statement from row
 * objects on every call. Every value came through the port's decode.
 */
const insertJobsOf = insertTexts("ai_jobs", JOB_COLUMNS)

/** The rows of `jobs` (at most `JOBS_PER_STATEMENT`) in one INSERT. */
const insertRows = (exec: Exec, jobs: ReadonlyArray<AiJob>) => {
  const values: Array<Bindable> = []
  for (const job of jobs) pushJobValues(values, job)
  return exec(insertJobsOf(jobs.length), values)
}

/** A statement that failed on a taken job id (stored already, or given twice): it wrote nothing. */
const isTakenId = (error: SqlError): boolean => sqliteCode(error) === "SQLITE_CONSTRAINT_PRIMARYKEY"

/**
 * The first of `ids` (in order) that is stored already or repeated within
 * `ids` (its second occurrence): the id an INSERT of them could not write.
 */
const takenJobId = (exec: Exec, ids: ReadonlyArray<string>) =>
  Effect.map(
    exec<{ readonly id: string }>("SELECT id FROM ai_jobs WHERE id IN (SELECT value FROM json_each(?))", [JSON.stringify(ids)]),
    (rows) => {
      const seen = new Set(rows.map((row) => row.id))
      for (const id of ids) {
        if (seen.has(id)) return id
        seen.add(id)
      }
      return undefined
    }
  )

/**
 * Inserts `jobs` inside the caller's write transaction, in statements of at
 * most `JOBS_PER_STATEMENT` rows. A taken id is `AlreadyExists` naming it,
 * found in the database while the transaction still holds the write lock
 * (so the row in the way is still there); the caller's rollback takes back
 * the statements before.
 */
const insertJobs = (exec: Exec, jobs: ReadonlyArray<AiJob>) =>
  Effect.gen(function*() {
    for (let start = 0; start < jobs.length; start += JOBS_PER_STATEMENT) {
      const chunk = jobs.slice(start, start + JOBS_PER_STATEMENT)
      yield* Effect.catchIf(insertRows(exec, chunk), isTakenId, (error) =>
        Effect.flatMap(
          takenJobId(exec, chunk.map((job) => job.job_id)),
          (id): Effect.Effect<never, SqlError | AlreadyExists> =>
            id === undefined ? Effect.fail(error) : Effect.fail(takenInBatch("job", id, jobs.map((job) => job.job_id)))
        ))
    }
  })

/** `createJobs` of the SQLite store. */
export const makeBatchMethods = ({ exec, transaction, insertEvents }: SqliteContext) => {
  const createJobs: Service["createJobs"] = Effect.fnUntraced(
    function*(inputs: ReadonlyArray<NewAiJob>, options?: Creation<ReadonlyArray<AiJob>>) {
      if (inputs.length === 0) return []
      const now = options?.at ?? (yield* DateTime.now)
      const jobs = inputs.map((input) => newJob(input, now))
      const events = yield* auditRecords(options?.events, jobs)
      const inTransaction = transaction(Effect.zipRight(insertJobs(exec, jobs), insertEvents(events)))
      // One statement and nothing else runs on its own (see the module comment). A taken id fails
      // it whole, writing nothing; the transaction then finds which id it was, and fails naming it.
      yield* events.length === 0 && jobs.length <= JOBS_PER_STATEMENT
        ? Effect.catchIf(transaction.single(insertRows(exec, jobs)), isTakenId, () => inTransaction)
        : inTransaction
      // What was written is exactly what a read gives back (timestamps are whole milliseconds).
      return jobs
    },
    storageErrors("JobStore.createJobs")
  )
  return { createJobs }
}
