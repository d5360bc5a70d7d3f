/**
 * Issue 15.7: `Jobs.submit` and `FlightRecorder.record` take typed input — a
 * misspelt field does not compile (the `@ts-expect-error` lines below fail
 * `npm run typecheck` if it ever does) — and untrusted input goes through the
 * separately named `submitUntrusted` / `recordUntrusted`, refused with every
 * problem named and nothing stored.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { FlightRecorder } from "../../src/FlightRecorder.js"
import { Jobs } from "../../src/Jobs.js"
import { SqliteStore } from "../../src/index.js"
import { summarize } from "../jobs/jobs.suite.js"
import { services } from "../jobs/services.js"

const app = () => services(SqliteStore.layer({ filename: ":memory:" }))

describe("issue 15.7 typed at compile time, untrusted input by name", () => {
  it.effect("issue 15.7 a misspelt field does not compile; through submitUntrusted it is a DecodeFailure and no job is stored", () =>
    Effect.gen(function*() {
      const jobs = yield* Jobs
      const { job_kind: _kind, ...rest } = summarize()
      if (Math.random() > 2) {
        // @ts-expect-error job_knd is no field of a job request
        yield* jobs.submit({ ...rest, job_knd: "doc_summarize" })
        // @ts-expect-error a kind that does not exist
        yield* jobs.submit(summarize({ job_kind: "doc_summarise" }))
      }
      const refused = yield* Effect.flip(jobs.submitUntrusted({ ...rest, job_knd: "doc_summarize" }))
      assert.strictEqual(refused._tag, "DecodeFailure")
      assert.isTrue(refused._tag === "DecodeFailure" && refused.issues.some((issue) => issue.path.includes("job_kind")))
      assert.strictEqual((yield* jobs.list()).items.length, 0)
      assert.strictEqual((yield* jobs.submit(summarize())).state, "queued")
    }).pipe(Effect.provide(app())))

  it.effect("issue 15.7 FlightRecorder.record is typed the same way; recordUntrusted reports InvalidEvent and stores nothing", () =>
    Effect.gen(function*() {
      const recorder = yield* FlightRecorder
      const event = {
        event_id: crypto.randomUUID(),
        timestamp: "2026-01-01T00:00:00.000Z",
        actor: "system",
        type: "diagnostic",
        diagnostic_id: "d-1"
      } as const
      if (Math.random() > 2) {
        // @ts-expect-error diagnostc_id is no field of a diagnostic event
        yield* recorder.record({ ...event, diagnostc_id: "d-1" })
      }
      const { diagnostic_id: _id, ...withoutId } = event
      const refused = yield* Effect.flip(recorder.recordUntrusted({ ...withoutId, diagnostc_id: "d-1" }))
      assert.strictEqual(refused._tag, "InvalidEvent")
      assert.strictEqual((yield* recorder.list()).items.length, 0)
      assert.strictEqual((yield* recorder.record(event)).type, "diagnostic")
    }).pipe(Effect.provide(app())))
})
