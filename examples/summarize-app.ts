/**
 * A small Effect application on this library: it summarises a document as a
 * durable, audited AI job. Inside the repo it imports from ../src; an
 * application imports the same names from "@handshake/ai-job-model".
 *
 *   npx tsx examples/summarize-app.ts                 # ./data/example.db
 *   npx tsx examples/summarize-app.ts postgres://...  # a PostgreSQL server
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Capabilities, DatabaseUrl, FlightRecorder, Jobs, type JobStore, Recovery, WakeUp } from "../src/index.js"

/** The application's services over any store: swap the store layer in tests. */
export const makeApp = <E>(store: Layer.Layer<JobStore.JobStore, E>) =>
  Jobs.layer().pipe(
    // Startup recovery runs in the background; submits wait for it (R9).
    Layer.provideMerge(Recovery.layerStartup()),
    // It runs its job itself (start + run), with no worker pool to wake: polling only.
    Layer.provideMerge(WakeUp.layerPollOnly),
    Layer.provideMerge(FlightRecorder.layer()),
    Layer.provideMerge(Capabilities.layerDefault),
    Layer.provideMerge(store)
  )

/** Production wiring: the store named by a URL or path. */
export const AppLive = (database: string) => makeApp(DatabaseUrl.layerFromUrl(database))

/** Submits a summary job and runs it as two recorded nodes. */
export const summarizeDocument = (docId: string, text: string) =>
  Effect.gen(function*() {
    const jobs = yield* Jobs.Jobs
    const job = yield* jobs.submit({
      job_kind: "doc_summarize",
      protocol_id: "example.summarize.v1",
      profile_id: "example-user",
      // No capability profile: the policy runs doc_summarize jobs under Analyst.
      access_mode: "analysis_only",
      safety_mode: "normal",
      entity_refs: [{ entity_id: docId, entity_kind: "document" }],
      job_inputs: { doc_id: docId }
    })
    yield* jobs.start(job.job_id)
    const summary = yield* jobs.run(job.job_id, (ctx) =>
      Effect.gen(function*() {
        const words = yield* ctx.node(
          { node_id: "count-words", node_type: "transform", input: { doc_id: docId } },
          Effect.succeed(text.split(/\s+/).filter(Boolean).length)
        )
        return yield* ctx.node(
          { node_id: "summarize", node_type: "llm", input: { words } },
          Effect.succeed({ summary: text.split(/\s+/).slice(0, 8).join(" "), words })
        )
      }))
    return { job_id: job.job_id, trace_id: job.trace_id, summary }
  })

const isMain = import.meta.url === `file://${process.argv[1]}`
if (isMain) {
  const database = process.argv[2] ?? "./data/example.db"
  summarizeDocument("doc-1", "Durable jobs survive crashes because every state change is written with its audit event.").pipe(
    Effect.tap((result) => Effect.log(result)),
    Effect.provide(AppLive(database)),
    Effect.runPromise
  ).catch((error) => {
    console.error(String(error))
    process.exitCode = 1
  })
}
