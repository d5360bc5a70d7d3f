/**
 * R14, the `url-password` rule (found by an outside probe): a URL's password
 * written with `/`, `#`, `?` or `@` unencoded (`postgres://app:Zx9/Kq2+Lm@host`)
 * was stored raw, the rule stopping at the first of them. It is now masked up
 * to the first `@` followed by a host (redaction-over-reach.test.ts), in events and in a job's stored text alike, on
 * SQLite (a file) and PostgreSQL; a port followed by a path holding an `@`
 * is still no password.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redactor from "../../src/internal/flight/Redactor.js"
import { Jobs } from "../../src/Jobs.js"
import { summarize } from "../jobs/jobs.suite.js"
import { services } from "../jobs/services.js"
import { postgres, sqliteFile } from "../support/stores.js"

const cases: ReadonlyArray<readonly [string, string]> = [
  ["psql postgres://app:Zx9/Kq2+Lm@db.internal:5432/prod now", "psql postgres://app:[REDACTED]@db.internal:5432/prod now"],
  ["clone https://app:p#ssWORD99@git.example.com/r.git", "clone https://app:[REDACTED]@git.example.com/r.git"],
  ["psql postgres://app:ab?cdEF12@db/prod", "psql postgres://app:[REDACTED]@db/prod"],
  ["psql postgres://app:p@ss@db/prod", "psql postgres://app:[REDACTED]@db/prod"],
  // Two URLs with no space between: each password masked, neither host.
  ["a https://u:x/y@h1,https://c:d#e@h2 b", "a https://u:[REDACTED]@h1,https://c:[REDACTED]@h2 b"],
  // A port, then a path holding an @: no password.
  ["open https://example.com:8443/a@b", "open https://example.com:8443/a@b"]
]

describe("R14 the url-password rule masks a password holding /, #, ? or @", () => {
  it("R14 url-password: a password written with /, #, ? or @ unencoded is masked up to the @ before the host", () => {
    const redactor = Redactor.make()
    for (const [text, shown] of cases) assert.strictEqual(redactor.redact(text), shown, text)
  })
})

for (const backend of [sqliteFile, postgres("url_password")]) {
  describe(`R14 url-password on ${backend.name}`, () => {
    it.effect("R14 a cancel reason holding such a URL is stored masked in the job and in its event", () =>
      Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        const reason = "db was postgres://app:Zx9/Kq2+Lm@db.internal:5432/prod and https://app:p#ssWORD99@host"
        const cancelled = yield* jobs.cancel(job.job_id, { reason })
        assert.strictEqual(cancelled.status_reason, "db was postgres://app:[REDACTED]@db.internal:5432/prod and https://app:[REDACTED]@host")
        const stored = JSON.stringify([yield* jobs.get(job.job_id), yield* jobs.history(job.job_id)])
        assert.include(stored, "postgres://app:[REDACTED]@db.internal:5432/prod")
        assert.notMatch(stored, /Zx9\/Kq2|ssWORD99/)
      }).pipe(Effect.provide(services(backend.makeStore()))), 60_000)
  })
}
