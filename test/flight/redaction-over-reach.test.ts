/**
 * R14 redaction keeps ordinary data (found by a regression probe): after a quoted secret name
 * and `:` (compact JSON) a value not quoted (`null`, `false`, `123456`, `{…}`) was read to the
 * next space, losing the rest of the document; the url-password rule read a password to the
 * last `@` of a URL, losing its host when the query held an `@`; and a secret inside escaped
 * JSON-in-JSON (`{\"password\":\"…\"}`) was stored raw. Checked on the rules and in the raw
 * rows of both stores.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Redactor from "../../src/internal/flight/Redactor.js"
import { Jobs } from "../../src/Jobs.js"
import { summarize } from "../jobs/jobs.suite.js"
import { services } from "../jobs/services.js"
import { postgres, sqliteFile, sqliteMemory } from "../support/stores.js"

const redactor = Redactor.make()
const shows = (cases: ReadonlyArray<readonly [string, string]>) => {
  for (const [text, shown] of cases) assert.strictEqual(redactor.redact(text), shown, text)
}

describe("R14 redaction rules keep the data around a secret", () => {
  it("R14 compact JSON: a value not quoted after a quoted secret name ends at , } ] — the rest of the document is kept", () =>
    shows([
      [
        `upstream rejected {"api_key":null,"region":"eu-west-1","order_id":"ord_981","retries":3}`,
        `upstream rejected {"api_key":[REDACTED],"region":"eu-west-1","order_id":"ord_981","retries":3}`
      ],
      [`{"remember":true,"password":false,"next":"/dashboard"}`, `{"remember":true,"password":[REDACTED],"next":"/dashboard"}`],
      [`{"api_key":123456,"retries":3}`, `{"api_key":[REDACTED],"retries":3}`],
      [`{"api_key":123456}`, `{"api_key":[REDACTED]}`],
      [`["x",{"password":7}]`, `["x",{"password":[REDACTED]}]`],
      // A bracketed value to its closing bracket when none of its kind opens inside it.
      [`{"password":{"minLength":8},"user":{"name":"ann"}}`, `{"password":[REDACTED],"user":{"name":"ann"}}`],
      [`{"password":["a","b"],"user":"ann"}`, `{"password":[REDACTED],"user":"ann"}`],
      // Nested deeper: to the first , } or ].
      [`{"password":{"a":{"b":1}},"user":"ann"}`, `{"password":[REDACTED]}},"user":"ann"}`],
      [`{'password': None, 'user': 'ann'}`, `{'password': [REDACTED], 'user': 'ann'}`]
    ]))

  it("R14 the shell and env forms still read a value to the next space", () =>
    shows([
      ["DB_PASSWORD=Xy7;k9!pQ2zR next", "DB_PASSWORD=[REDACTED] next"],
      ["password: a,b}c] next", "password: [REDACTED] next"],
      [`{"password":"a,b}c"}`, `{"password":"[REDACTED]"}`]
    ]))

  it("R14 url-password: the password ends at the first @ followed by a host; an @ later in the URL keeps the host", () =>
    shows([
      ["postgres://app:SECRETPW@db.internal:5432/app?x=a@b", "postgres://app:[REDACTED]@db.internal:5432/app?x=a@b"],
      ["https://app:SECRET@h1/x?u=bob@example.com", "https://app:[REDACTED]@h1/x?u=bob@example.com"],
      ["postgres://app:Zx9/Kq2+Lm@db.internal:5432/prod", "postgres://app:[REDACTED]@db.internal:5432/prod"],
      ["https://app:p#ssWORD99@host", "https://app:[REDACTED]@host"],
      ["postgres://u:ab@cd@host/db", "postgres://u:[REDACTED]@host/db"],
      ["postgres://u:pw@[::1]:5432/db?n=a@b", "postgres://u:[REDACTED]@[::1]:5432/db?n=a@b"],
      ["(see postgres://u:pw@host)", "(see postgres://u:[REDACTED]@host)"],
      // No @ followed by a host: up to the last @, never the password shown.
      ["postgres://u:pw@host!x@y z", "postgres://u:[REDACTED]@y z"]
    ]))

  it("R14 escaped JSON-in-JSON: a secret under \\\"password\\\" is redacted up to its closing \\\"", () =>
    shows([
      [String.raw`upstream said {"error":"{\"password\":\"JSONINJSONSECRET\"}"}`, String.raw`upstream said {"error":"{\"password\":\"[REDACTED]\"}"}`],
      [String.raw`"{\"password\": \"hunter2\", \"user\": \"bob\"}"`, String.raw`"{\"password\": \"[REDACTED]\", \"user\": \"bob\"}"`],
      [String.raw`"{\"api_key\":\"a\\\"b\\\\c\\nd\",\"k\":1}"`, String.raw`"{\"api_key\":\"[REDACTED]\",\"k\":1}"`],
      [String.raw`"{\"api_key\":null,\"k\":1}"`, String.raw`"{\"api_key\":[REDACTED],\"k\":1}"`]
    ]))

  // Found by a probe: only a JSON key named Cookie was a header's; `Cookie: …` written as text was stored as given.
  it("R14 a Cookie or Set-Cookie header written as text is redacted to the end of its line; the word in prose keeps its line", () =>
    shows([
      ["request failed: Cookie: session=abc123; theme=dark", "request failed: Cookie: [REDACTED]"],
      ["Set-Cookie: sid=s3cr3t; Path=/; HttpOnly", "Set-Cookie: [REDACTED]"],
      ["set-cookie:sid=s3cr3t; Expires=Wed, 21 Oct 2015 07:28:00 GMT", "set-cookie:[REDACTED]"],
      ["COOKIE: =nameless s3cr3t", "COOKIE: [REDACTED]"],
      // The value ends at its line: the next header and line are kept.
      ["GET / HTTP/1.1\r\nCookie: a=1; b=2\r\nAccept: json\nnext line", "GET / HTTP/1.1\r\nCookie: [REDACTED]\r\nAccept: json\nnext line"],
      // Prose: no cookie's `name=` after the colon, nothing redacted.
      ["dismissed the cookie banner; retry at 10:00 with a=1", "dismissed the cookie banner; retry at 10:00 with a=1"],
      ["cookie: none set; user=ann", "cookie: none set; user=ann"],
      ["cookies: 3 stored, ok=true", "cookies: 3 stored, ok=true"],
      ["no Cookie header\nuser=ann", "no Cookie header\nuser=ann"]
    ]))

  it("R14 a cookie header inside JSON text ends at its string's closing quote or an escaped line break: the rest of the document is kept", () =>
    shows([
      [`{"error":"upstream","headers":"Cookie: a=1; b=2","user":"ann"}`, `{"error":"upstream","headers":"Cookie: [REDACTED]","user":"ann"}`],
      [String.raw`{"msg":"GET /\r\nCookie: a=1; b=2\r\nAccept: json","user":"ann"}`, String.raw`{"msg":"GET /\r\nCookie: [REDACTED]\r\nAccept: json","user":"ann"}`],
      [String.raw`"{\"headers\":\"Set-Cookie: sid=x; Path=/\",\"user\":\"ann\"}"`, String.raw`"{\"headers\":\"Set-Cookie: [REDACTED]\",\"user\":\"ann\"}"`],
      // A quote inside the value (a quoted cookie value) is no string's end: the cookie after it is redacted too.
      [`Cookie: a="quoted"; b=s3cr3t`, `Cookie: [REDACTED]`]
    ]))
})

const rawRows = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  return JSON.stringify([yield* sql`SELECT * FROM ai_jobs`, yield* sql`SELECT * FROM flight_recorder_events`])
})

for (const backend of [sqliteFile, postgres("redaction_over_reach")]) {
  describe(`R14 redaction keeps ordinary data on ${backend.name}`, () => {
    it.effect("R14 a cancel reason with compact JSON, a URL with an @ in its query and JSON-in-JSON: raw rows keep the data, never the secrets", () =>
      Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        const reason = `upstream rejected {"api_key":null,"region":"eu-west-1","order_id":"ord_981","retries":3}; ` +
          String.raw`said {"error":"{\"password\":\"JSONINJSONSECRET\"}"}; ` +
          "retry postgres://app:SECRETPW@db.internal:5432/app?notify=ops@example.com"
        const cancelled = yield* jobs.cancel(job.job_id, { reason })
        assert.strictEqual(
          cancelled.status_reason,
          `upstream rejected {"api_key":[REDACTED],"region":"eu-west-1","order_id":"ord_981","retries":3}; ` +
            String.raw`said {"error":"{\"password\":\"[REDACTED]\"}"}; ` +
            "retry postgres://app:[REDACTED]@db.internal:5432/app?notify=ops@example.com"
        )
        const rows = yield* rawRows
        for (const kept of ["ord_981", "eu-west-1", "db.internal:5432", "ops@example.com"]) assert.include(rows, kept)
        assert.notMatch(rows, /JSONINJSONSECRET|SECRETPW/)
      }).pipe(Effect.provide(services(backend.makeStoreWithSql()) as Layer.Layer<Jobs | SqlClient.SqlClient, unknown>)), 60_000)
  })
}

for (const backend of [sqliteMemory, sqliteFile, postgres("redaction_cookie_text")]) {
  describe(`R14 a cookie header written as text is stored redacted on ${backend.name}`, () => {
    it.effect("R14 a cancel reason and an error text holding Cookie: / Set-Cookie: lines: rows and events keep the line's start, never the cookies", () =>
      Effect.gen(function*() {
        const jobs = yield* Jobs
        const cancelled = yield* jobs.cancel((yield* jobs.submit(summarize())).job_id, {
          reason: "request failed: Cookie: session=abc123SECRET; theme=dark\nthe cookie banner was shown"
        })
        assert.strictEqual(cancelled.status_reason, "request failed: Cookie: [REDACTED]\nthe cookie banner was shown")
        const failed = yield* jobs.fail((yield* jobs.submit(summarize())).job_id, "upstream sent Set-Cookie: sid=s3cr3tSID; Path=/; HttpOnly")
        assert.strictEqual(failed.error_message, "upstream sent Set-Cookie: [REDACTED]")
        const rows = yield* rawRows
        for (const kept of ["request failed: Cookie: [REDACTED]", "the cookie banner was shown", "upstream sent Set-Cookie: [REDACTED]"]) assert.include(rows, kept)
        assert.notMatch(rows, /abc123SECRET|theme=dark|s3cr3tSID|HttpOnly/)
      }).pipe(Effect.provide(services(backend.makeStoreWithSql()) as Layer.Layer<Jobs | SqlClient.SqlClient, unknown>)), 60_000)
  })
}
