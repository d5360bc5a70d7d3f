/**
 * A child process for sqlite-permissions.test.ts: opens the store a URL names
 * with the options given as JSON (argv 2 and 3), lists its jobs and prints one
 * JSON line — `{ "jobs": [ids] }`, or `{ "error": { _tag, operation, message, code } }`
 * when building the store or reading failed. Run as a user file permissions
 * bind (root ignores them).
 */
import * as Effect from "effect/Effect"
import * as Storage from "../../src/store/DatabaseUrl.js"
import { JobStore } from "../../src/store/JobStore.js"

const [url = "", json = "{}"] = process.argv.slice(2)

const program = Effect.flatMap(JobStore, (store) => store.listJobs()).pipe(
  Effect.provide(Storage.layerFromUrl(url, JSON.parse(json) as Storage.StorageOptions)),
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
