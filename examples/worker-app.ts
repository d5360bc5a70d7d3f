/**
 * A worker application on this library (issue 15): a pool with one handler
 * per job kind, retries with backoff for a flaky step, instant wake-up, and a
 * graceful shutdown on SIGTERM. Inside the repo it imports from ../src; an
 * application imports the same names from "@handshake/ai-job-model".
 *
 *   node --import tsx examples/worker-app.ts                 # ./data/worker.db
 *   node --import tsx examples/worker-app.ts postgres://...  # a PostgreSQL server
 *
 * (`node --import tsx`, not `npx tsx`: tsx's relay SIGKILLs a child slow to acknowledge a signal.)
 *
 * Submit work from any process with `Jobs.submit`; SIGTERM (Ctrl-C) stops
 * claiming, lets running jobs finish for up to 20 s, and hands the rest back
 * to the queue for the next worker. A second signal hands them back at once.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { Capabilities, DatabaseUrl, FlightRecorder, type DecodeFailure, Jobs, type JobStore, Recovery, type StorageError, WakeUp } from "../src/index.js"

/** Retries: ingestion talks to a flaky service, so it gets 3 attempts, 2 s then 4 s apart (±20 %). */
export const retries = {
  default: { maxAttempts: 1 },
  kinds: { doc_ingest: { maxAttempts: 3, backoff: { initial: "2 seconds", factor: 2, max: "1 minute", jitter: 0.2 } } }
} as const

/** The application's services over any store and wake-up: swap both in tests. */
export const makeWorkerApp = <E>(store: Layer.Layer<JobStore.JobStore, E>, wakeUp: Layer.Layer<WakeUp.WakeUp>) =>
  Jobs.layer({ retry: retries }).pipe(
    Layer.provideMerge(Recovery.layerStartup()),
    Layer.provideMerge(FlightRecorder.layer()),
    Layer.provideMerge(Capabilities.layerDefault),
    Layer.provideMerge(wakeUp),
    Layer.provideMerge(store)
  )

/** Production wiring: the store named by a URL or path, woken by LISTEN/NOTIFY on PostgreSQL. */
export const AppLive = (database: string) => makeWorkerApp(DatabaseUrl.layerFromUrl(database), WakeUp.layerFromUrl(database))

/** A stand-in for a flaky network call: fails on the attempts `job_inputs.fail_attempts` names. */
const fetchDocument = (docId: string, attempt: number, failAttempts: ReadonlyArray<number>) =>
  failAttempts.includes(attempt) ? Effect.fail(`fetching ${docId}: connection reset`) : Effect.succeed(`text of ${docId}`)

/** One program per kind; the pool claims only these kinds. */
export const handlers: Jobs.Handlers<unknown, never> = {
  doc_summarize: (ctx) =>
    ctx.node({ node_id: "summarize", node_type: "llm", input: ctx.job.job_inputs }, Effect.succeed({ summary: "…" })),
  doc_ingest: (ctx) =>
    Effect.gen(function*() {
      const inputs = (ctx.job.job_inputs ?? {}) as { readonly doc_id?: string; readonly fail_attempts?: ReadonlyArray<number> }
      const docId = inputs.doc_id ?? "unknown"
      const text = yield* ctx.node(
        { node_id: "fetch", node_type: "http", input: { doc_id: docId } },
        fetchDocument(docId, ctx.job.attempt, inputs.fail_attempts ?? [])
      )
      return { doc_id: docId, chars: text.length, attempt: ctx.job.attempt }
    })
}

/** The worker: a pool of 4 in the current scope; closing the scope is the graceful shutdown. */
export const worker = Effect.flatMap(Jobs.Jobs, (jobs) =>
  jobs.worker({ concurrency: 4, drainTimeout: "20 seconds", handlers }))

/**
 * The process: `pool` on the database until SIGTERM or SIGINT closes its scope (drain, release,
 * exit). `Jobs.runWorkerMain` keeps listening during the drain: a further signal releases now.
 */
export const runWorkerProcess = (database: string, pool: Effect.Effect<void, StorageError | DecodeFailure, Jobs.Jobs | Scope.Scope> = worker) =>
  Jobs.runWorkerMain(Effect.zipRight(pool, Effect.never).pipe(Effect.scoped, Effect.provide(AppLive(database))))

const isMain = import.meta.url === `file://${process.argv[1]}`
if (isMain) runWorkerProcess(process.argv[2] ?? "./data/worker.db")
