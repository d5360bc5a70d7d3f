/**
 * An exclusive upper bound rounded up past the last stored instant (found by
 * an outside probe): GET /events?until=9999-12-31T23:59:59.9995Z rounds to one
 * millisecond past 9999-12-31T23:59:59.999Z, and the stores clamped it back to
 * that instant, so `<` left out an event stamped exactly then — no `until`
 * could include it. Both stores, through the API.
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import * as FlightRecorder from "../../src/FlightRecorder.js"
import type { Backend } from "../support/backend.js"
import { postgres, sqliteFile } from "../support/stores.js"
import { apiServer, send, summarize, TOKEN } from "./server.js"

const LAST = DateTime.unsafeMake("9999-12-31T23:59:59.999Z")

for (const backend of [sqliteFile, postgres("bound past 9999")] as ReadonlyArray<Backend>) {
  describe(`time bounds at 9999 through the API on ${backend.name}`, () => {
    it.effect("R10 GET /events?until=9999-12-31T23:59:59.9995Z keeps the event stamped 9999-12-31T23:59:59.999Z; until=…59.999Z leaves it out; since=…59.999Z gives it", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(DateTime.toEpochMillis(LAST))
        const recorder = yield* FlightRecorder.FlightRecorder
        const event = yield* recorder.record(yield* FlightRecorder.makeEvent("diagnostic", { actor: "system", diagnostic_id: "at-the-end" }))
        assert.strictEqual(DateTime.formatIso(event.timestamp), "9999-12-31T23:59:59.999Z")
        const listed = (query: string) =>
          Effect.map(send(HttpClientRequest.get(`/events?${query}`).pipe(HttpClientRequest.bearerToken(TOKEN))), (response) => {
            assert.strictEqual(response.status, 200, response.text)
            return ((response.body?.["items"] ?? []) as Array<{ readonly event_id: string }>).some((item) => item.event_id === event.event_id)
          })
        assert.isTrue(yield* listed(`until=${encodeURIComponent("9999-12-31T23:59:59.9995Z")}`))
        assert.isFalse(yield* listed(`until=${encodeURIComponent("9999-12-31T23:59:59.999Z")}`))
        assert.isTrue(yield* listed(`since=${encodeURIComponent("9999-12-31T23:59:59.999Z")}`))
        assert.isFalse(yield* listed(`since=${encodeURIComponent("9999-12-31T23:59:59.9995Z")}`))
      }).pipe(Effect.provide(apiServer(backend.makeStore()))))

    it.effect("R10 GET /jobs?created_before=9999-12-31T23:59:59.9991Z keeps a job created 9999-12-31T23:59:59.999Z; GET /events?since=1969-12-31T23:59:59.9991Z is refused as …59.999Z is", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(DateTime.toEpochMillis(LAST))
        const created = yield* send(HttpClientRequest.post("/jobs").pipe(
          HttpClientRequest.bearerToken(TOKEN),
          HttpClientRequest.bodyUnsafeJson(summarize())
        ))
        assert.strictEqual(created.status, 201, created.text)
        const jobId = created.body?.["job_id"]
        const page = yield* send(HttpClientRequest.get(`/jobs?created_before=${encodeURIComponent("9999-12-31T23:59:59.9991Z")}`).pipe(HttpClientRequest.bearerToken(TOKEN)))
        assert.strictEqual(page.status, 200, page.text)
        assert.deepStrictEqual((page.body?.["items"] as Array<{ readonly job_id: string }>).map((job) => job.job_id), [jobId])
        for (const since of ["1969-12-31T23:59:59.999Z", "1969-12-31T23:59:59.9991Z"]) {
          const refused = yield* send(HttpClientRequest.get(`/events?since=${encodeURIComponent(since)}`).pipe(HttpClientRequest.bearerToken(TOKEN)))
          assert.strictEqual(refused.status, 400, since)
        }
      }).pipe(Effect.provide(apiServer(backend.makeStore()))))
  })
}
