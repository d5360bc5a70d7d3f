/**
 * What the permission children (list-jobs-child.ts, open-past-check-child.ts)
 * print: the jobs of the store `layer` builds, as one JSON line —
 * `{ "jobs": [ids] }`, or `{ "error": { _tag, operation, message, code } }`
 * when building the store or reading failed.
 */
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import { JobStore } from "../../src/store/JobStore.js"

/** Lists the jobs of the store `layer` builds and prints the outcome as one JSON line. */
export const printListing = <E extends { readonly _tag: string; readonly message: string }>(layer: Layer.Layer<JobStore, E>): void => {
  const program = Effect.flatMap(JobStore, (store) => store.listJobs()).pipe(
    Effect.provide(layer),
    Effect.map((page) => ({ jobs: page.items.map((job) => job.job_id) })),
    Effect.catchAll((error) =>
      Effect.succeed({
        error: {
          _tag: error._tag,
          operation: "operation" in error ? error.operation : undefined,
          message: error.message,
          code: (error as { readonly cause?: { readonly code?: unknown } }).cause?.code
        }
      })
    )
  )
  void Effect.runPromise(program).then((line) => process.stdout.write(`${JSON.stringify(line)}\n`))
}
