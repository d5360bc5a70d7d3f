/**
 * Batch create on SQLite (issue 16): every job in one `BEGIN IMMEDIATE`
 * transaction of multi-row INSERTs (prepared once per batch size and cached
 * by the client), its events in the same transaction — one commit for a
 * whole batch, where `createJob` × n would take n statements and savepoints.
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type { AiJob, NewAiJob } from "../../domain/AiJob.js"
import { auditRecords } from "../internal/audit.js"
import { firstTaken } from "../internal/firstTaken.js"
import { newJob } from "../internal/newRows.js"
import type { Audited, JobStore } from "../JobStore.js"
import { AlreadyExists } from "../StoreErrors.js"
import { insertText, type SqliteContext } from "./context.js"
import { type Bindable, JOB_COLUMNS, pushJobValues } from "./rowCodec.js"
import { storageErrors } from "./errors.js"

type Service = JobStore["Type"]

// 25 columns per row: 500 rows stay far below SQLite's bound-parameter limit (32766).
const JOBS_PER_STATEMENT = 500

/**
 * The INSERT of `rows` jobs, its text made once per batch size (the client
 * prepares and caches each text): run through `exec` with the hand-built row
 * values (rowCodec.ts), without @effect/sql compiling a statement from row
 * objects on every call. Every value came through the port's decode.
 */
const insertJobsText = new Map<number, string>()
const insertJobs = (rows: number): string => {
  let text = insertJobsText.get(rows)
  if (text === undefined) {
    text = `${insertText("ai_jobs", JOB_COLUMNS, rows)} ON CONFLICT (id) DO NOTHING RETURNING id`
    insertJobsText.set(rows, text)
  }
  return text
}

/** `createJobs` of the SQLite store. */
export const makeBatchMethods = ({ exec, transaction, insertEvents }: SqliteContext) => {
  const createJobs: Service["createJobs"] = Effect.fnUntraced(
    function*(inputs: ReadonlyArray<NewAiJob>, options?: Audited<ReadonlyArray<AiJob>>) {
      if (inputs.length === 0) return []
      const now = yield* DateTime.now
      const jobs = inputs.map((input) => newJob(input, now))
      const events = yield* auditRecords(options?.events, jobs)
      yield* transaction(Effect.gen(function*() {
        for (let start = 0; start < jobs.length; start += JOBS_PER_STATEMENT) {
          const chunk = jobs.slice(start, start + JOBS_PER_STATEMENT)
          // ON CONFLICT instead of catching the constraint error: an id stored
          // already, or given twice, is missing from RETURNING and named from
          // there; the rollback then takes back the rows that did go in.
          const values: Array<Bindable> = []
          for (const job of chunk) pushJobValues(values, job)
          const inserted = yield* exec<{ readonly id: string }>(insertJobs(chunk.length), values)
          if (inserted.length < chunk.length) {
            const id = firstTaken(chunk.map((job) => job.job_id), inserted.map((row) => row.id))
            return yield* new AlreadyExists({ entity: "job", id })
          }
        }
        yield* insertEvents(events)
      }))
      // What was written is exactly what a read gives back (timestamps are whole milliseconds).
      return jobs
    },
    storageErrors("JobStore.createJobs")
  )
  return { createJobs }
}
