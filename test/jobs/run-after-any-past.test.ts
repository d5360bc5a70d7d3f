/**
 * R17 `run_after`: "a time already past means now" — whatever its year, and
 * in whatever zone the instant is given (found by an outside probe). A
 * `run_after` before 1970 (`1969-12-31T23:59:59Z`, `1970-01-01T00:30:00+01:00`,
 * a DateTime in 1900, year 0001) was refused with `DecodeFailure` "Not a
 * valid instant between 1970 and 9999" although `1970-01-01T00:00:00Z` was
 * accepted as now; a zoned `DateTime` was refused as "Expected an instant
 * between 1970 and 9999" although RFC 3339 text with an offset is accepted
 * (the type now names `DateTime`, any zone, not only `DateTime.Utc`).
 * Now each is stored and read back — a past one as the job's creation, a
 * zoned one at its instant — through Jobs.submit, submitMany, the HTTP API
 * and the store's own createJob, on both stores. (Text that is no instant and
 * an instant past 9999 are still refused: jobs.suite.ts, "a refused run_after".)
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import type { AiJob } from "../../src/domain/AiJob.js"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import type { Backend } from "../support/backend.js"
import { postgres, sqliteFile } from "../support/stores.js"
import { apiServer, send, TOKEN } from "../http/server.js"
import { newJob } from "../store/fixtures.js"
import { summarize } from "./jobs.suite.js"

/** The test's clock: every job below is created at this instant. */
const NOW = Date.parse("2031-05-06T07:08:09.123Z")

/** Past instants before 1970, in each form a caller may give one. */
const PAST_BEFORE_1970: ReadonlyArray<readonly [string, DateTime.DateTime | string]> = [
  ["text one second before 1970", "1969-12-31T23:59:59Z"],
  ["text before 1970 by its offset", "1970-01-01T00:30:00+01:00"],
  ["text in year 0001", "0001-01-01T00:00:00Z"],
  ["text on 0000-02-29 (a leap day: Date.UTC read year 0 as 1900)", "0000-02-29T00:00:00Z"],
  ["DateTime one millisecond before 1970", DateTime.unsafeMake(-1)],
  ["DateTime in 1900", DateTime.unsafeMake("1900-01-01T00:00:00Z")],
  ["zoned DateTime before 1970", DateTime.unsafeMakeZoned(Date.UTC(1960, 0, 1), { timeZone: "Europe/Berlin" })],
  ["text at 1970's first instant (accepted before)", "1970-01-01T00:00:00Z"]
]

/** A zoned `DateTime` an hour after NOW (a JS caller past the types), and a zoned one at NOW. */
const zonedLater = () => DateTime.unsafeMakeZoned(NOW + 3_600_000, { timeZone: "Europe/Berlin" })
const zonedNow = () => DateTime.unsafeMakeZoned(NOW, { timeZone: "America/Los_Angeles" })

const iso = (instant: DateTime.DateTime) => DateTime.formatIso(DateTime.toUtc(instant))

/** The job as the store has it: created at NOW, and eligible at `eligible`. */
const assertStored = (job: AiJob, eligible: number, what: string) =>
  Effect.gen(function*() {
    const stored = yield* (yield* Jobs).get(job.job_id)
    assert.deepStrictEqual(
      [iso(stored.created_at), iso(stored.run_after), DateTime.isUtc(stored.run_after)],
      [iso(DateTime.unsafeMake(NOW)), iso(DateTime.unsafeMake(eligible)), true],
      `${what}: created_at, run_after read back`
    )
    assert.deepStrictEqual(stored, job, `${what}: read back as answered`)
  })

const suite = (backend: Backend) =>
  describe(`R17 run_after, any past instant and any zone, on ${backend.name}`, () => {
    const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.provide(Effect.zipRight(TestClock.setTime(NOW), effect), apiServer(backend.makeStore()))

    it.effect("R17 Jobs.submit takes a run_after before 1970 (text of any year, a DateTime) as now", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        for (const [what, run_after] of PAST_BEFORE_1970) {
          yield* assertStored(yield* jobs.submit(summarize({ run_after })), NOW, what)
        }
        yield* assertStored(yield* jobs.submitUntrusted(summarize({ run_after: "1969-07-20T20:17:40Z" })), NOW, "text before 1970, untrusted")
      })))

    it.effect("R17 Jobs.submit takes a zoned DateTime at its instant, not refused as out of range", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        yield* assertStored(yield* jobs.submit(summarize({ run_after: zonedLater() })), NOW + 3_600_000, "zoned DateTime an hour on")
        yield* assertStored(yield* jobs.submitUntrusted(summarize({ run_after: zonedNow() })), NOW, "zoned DateTime now, untrusted")
      })))

    it.effect("R17 Jobs.submitMany takes run_after before 1970 as now and a zoned DateTime at its instant, in one batch", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const given = [...PAST_BEFORE_1970, ["zoned DateTime an hour on", zonedLater()] as const]
        const created = yield* jobs.submitMany(given.map(([, run_after]) => summarize({ run_after })))
        assert.strictEqual(created.length, given.length)
        for (const [i, [what]] of given.entries()) {
          yield* assertStored(created[i]!, what.startsWith("zoned DateTime an hour") ? NOW + 3_600_000 : NOW, what)
        }
      })))

    it.effect("R17 POST /jobs takes a run_after text before 1970 (year 0001, an offset) as now: 201, stored with run_after = created_at", () =>
      provide(Effect.gen(function*() {
        const texts = PAST_BEFORE_1970.flatMap(([what, run_after]) => typeof run_after === "string" ? [[what, run_after] as const] : [])
        for (const [what, run_after] of texts) {
          const response = yield* send(HttpClientRequest.post("/jobs").pipe(
            HttpClientRequest.bearerToken(TOKEN),
            HttpClientRequest.bodyUnsafeJson(summarize({ run_after }))
          ))
          assert.strictEqual(response.status, 201, `${what}: ${response.text}`)
          assert.strictEqual(response.body?.["run_after"], iso(DateTime.unsafeMake(NOW)), what)
          const stored = yield* (yield* Jobs).get(response.body?.["job_id"] as AiJob["job_id"])
          assert.deepStrictEqual([iso(stored.run_after), iso(stored.created_at)], [iso(DateTime.unsafeMake(NOW)), iso(DateTime.unsafeMake(NOW))], what)
        }
      })))

    it.effect("R17 the store's createJob and createJobs take a run_after before 1970 as the creation, a zoned one at its instant", () =>
      provide(Effect.gen(function*() {
        const store = yield* JobStore
        const input = (run_after: unknown) => ({ ...newJob(), run_after }) as never
        const one = yield* store.createJob(input(DateTime.unsafeMake("1900-01-01T00:00:00Z")))
        yield* assertStored(one, NOW, "createJob, DateTime in 1900")
        const [past, zoned] = yield* store.createJobs([input("0001-01-01T00:00:00Z"), input(zonedLater())])
        yield* assertStored(past!, NOW, "createJobs, text in year 0001")
        yield* assertStored(zoned!, NOW + 3_600_000, "createJobs, zoned DateTime an hour on")
      })))
  })

suite(sqliteFile)
suite(postgres("run after any past"))
