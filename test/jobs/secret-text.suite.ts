/**
 * Secrets in caller text as the stores hold them (R14), run unchanged on each store: a named
 * secret's value is redacted whole whatever characters it holds, in the job row and in its events,
 * read back by raw SQL (no secret byte left); and caller text that breaks the input rules is refused
 * as it is, with a secret in it as without, before any redaction could rewrite it.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as FlightRecorder from "../../src/FlightRecorder.js"
import * as Jobs from "../../src/Jobs.js"
import { eventOf } from "../flight/fixtures.js"
import type { Backend } from "../support/backend.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"

/** The tails the probe found stored: what follows a `;`, `&`, `,`, `'` or an escaped `"` in a secret. */
const TAILS = ["k9!pQ2zR", "3horse", "sMyS3cretPass", "defGHI123", "cdTAIL"]

/** Every job and event row, as the database holds them, as text. */
const rawRows = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const jobs = yield* sql`SELECT * FROM ai_jobs`
  const events = yield* sql`SELECT * FROM flight_recorder_events`
  return { jobs: JSON.stringify(jobs), events: JSON.stringify(events), count: events.length }
})

/** The failure's tag and message, or "success". */
const refusalOf = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.exit(effect), (exit) =>
    exit._tag === "Success"
      ? "success"
      : exit.cause._tag === "Fail"
      ? `${String((exit.cause.error as { readonly _tag?: unknown })._tag)}: ${String((exit.cause.error as { readonly message?: unknown }).message)}`
      : `not a typed failure: ${exit.cause._tag}`)

export const runSecretTextSuite = (backend: Backend) => {
  const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.provide(effect, services(backend.makeStoreWithSql()) as Layer.Layer<Exclude<R, never>, unknown>)

  describe(`secrets in caller text on ${backend.name}`, () => {
    // Found by an outside probe: the value ended at `;`, `&`, `,` or a quote, and its rest was stored.
    it.effect("R14 a named secret holding ; & , ' or an escaped quote is redacted whole: the raw job row and event rows hold none of it", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const recorder = yield* FlightRecorder.FlightRecorder
        const job = yield* jobs.submit(summarize())
        const cancelled = yield* jobs.cancel(job.job_id, { reason: "rotated: DB_PASSWORD=Xy7;k9!pQ2zR PGPASSWORD=tr0ub4dor&3horse" })
        assert.strictEqual(cancelled.status_reason, "rotated: DB_PASSWORD=[REDACTED] PGPASSWORD=[REDACTED]")
        const recorded = yield* recorder.record(eventOf("terminal_command", {
          command: "PGPASSWORD='it'\\''sMyS3cretPass' psql -c 'select 1'",
          args: ["--password=abc,defGHI123", `{"password": "ab\\"cdTAIL", "user": "ann"}`]
        }))
        // What follows a quoted secret is kept: the command's rest, the JSON text's next key.
        assert.strictEqual(recorded.body["command"], "PGPASSWORD='[REDACTED]' psql -c 'select 1'")
        assert.deepStrictEqual(recorded.body["args"], ["--password=[REDACTED]", `{"password": "[REDACTED]", "user": "ann"}`])
        const rows = yield* rawRows
        assert.deepStrictEqual(TAILS.filter((tail) => rows.jobs.includes(tail)), [], "the job row")
        assert.deepStrictEqual(TAILS.filter((tail) => rows.events.includes(tail)), [], "the event rows")
      })))

    // Found by an outside probe: values under these keys, Basic credentials and ODBC's Pwd were stored as given.
    it.effect("R14 values under pwd, credentials, auth, bearer and access-key keys, HTTP Basic credentials and ODBC's Pwd are redacted: the raw event rows hold none of them", () =>
      provide(Effect.gen(function*() {
        const recorder = yield* FlightRecorder.FlightRecorder
        const keys = ["pwd", "passwd", "credentials", "credential", "auth", "bearer", "access_key", "ACCESS_KEY", "private_key", "client_secret"]
        const edit = yield* recorder.record(eventOf("editor_edit", {
          applied_suggestions: [Object.fromEntries(keys.map((key, index) => [key, `leak-${index}-x`]))]
        }))
        assert.deepStrictEqual(edit.body["applied_suggestions"], [Object.fromEntries(keys.map((key) => [key, "[REDACTED]"]))])
        yield* recorder.record(eventOf("terminal_command", {
          command: "curl -H 'Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l' https://h",
          args: ["Server=db;Uid=sa;Pwd=Hunter2Odbc;"]
        }))
        const rows = yield* rawRows
        assert.deepStrictEqual(["leak-", "YWxhZGRpbjpvcGVuc2VzYW1l", "Hunter2Odbc"].filter((secret) => rows.events.includes(secret)), [])
      })))

    // Found by an outside probe: the check ran on the redacted text, so `password=hunter2\u0000` was stored as
    // `password=[REDACTED]` (its NUL redacted away with the secret) where `plain text\u0000` was refused.
    it.effect("R5 R14 caller text with U+0000 or a lone surrogate is refused as given, a secret in it or not: a cancel reason, a fail error, a recorded event's field and a value under a secret's key; the same refusal, nothing changed", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const recorder = yield* FlightRecorder.FlightRecorder
        const job = yield* jobs.submit(summarize())
        const before = yield* rawRows
        const pairs: ReadonlyArray<readonly [string, (text: string) => Effect.Effect<unknown, unknown>]> = [
          ["cancel", (text) => jobs.cancel(job.job_id, { reason: text })],
          ["fail", (text) => jobs.fail(job.job_id, text)],
          ["record", (text) => recorder.record(eventOf("terminal_command", { command: text }))],
          ["record under a secret's key", (text) => recorder.record(eventOf("editor_edit", { applied_suggestions: [{ password: text }] }))]
        ]
        for (const [name, write] of pairs) {
          for (const [plain, secret] of [["plain text\u0000", "password=hunter2\u0000"], ["half \uD800 a pair", "password=x\uD800y"]] as const) {
            const refusal = yield* refusalOf(write(plain))
            assert.match(refusal, /^(DecodeFailure|InvalidEvent): /, `${name}: ${JSON.stringify(plain)}`)
            assert.strictEqual(yield* refusalOf(write(secret)), refusal, `${name}: ${JSON.stringify(secret)} as ${JSON.stringify(plain)}`)
          }
        }
        assert.deepStrictEqual(yield* rawRows, before, "nothing written")
        assert.strictEqual((yield* jobs.get(job.job_id)).state, "queued")
      })))
  })
}
