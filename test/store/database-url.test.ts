/**
 * R17: one URL chooses the store. A `sqlite:` URL may carry sqlx's `?mode=`
 * (the reference's driver reads it): `rwc` creates the file, `rw` opens only
 * an existing one, `ro` opens it read-only, `memory` is in memory. Any other
 * parameter or mode is a typed refusal, never part of a file's name. Its path
 * is percent-decoded as sqlx decodes it; a malformed escape is refused.
 */
import * as fs from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as os from "node:os"
import * as path from "node:path"
import * as SqliteJobStore from "../../src/store/SqliteJobStore.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as Storage from "../../src/store/DatabaseUrl.js"
import { tempSqliteFile } from "../support/stores.js"
import { expectTag, failureOf, newJob } from "./fixtures.js"

const store = (url: string) => Storage.layerFromUrl(url) as Layer.Layer<JobStore>

describe("R17 database URLs", () => {
  const parsed: ReadonlyArray<readonly [string, Storage.DatabaseTarget]> = [
    ["./data/handshake.db", { dialect: "sqlite", filename: "./data/handshake.db" }],
    ["sqlite:jobs.db", { dialect: "sqlite", filename: "jobs.db" }],
    ["sqlite://data/handshake.db", { dialect: "sqlite", filename: "data/handshake.db" }],
    ["sqlite::memory:", { dialect: "sqlite", filename: ":memory:" }],
    ["sqlite://data/handshake.db?mode=rwc", { dialect: "sqlite", filename: "data/handshake.db" }],
    ["sqlite://data/handshake.db?mode=rw", { dialect: "sqlite", filename: "data/handshake.db", mustExist: true }],
    ["sqlite://data/handshake.db?mode=ro", { dialect: "sqlite", filename: "data/handshake.db", readonly: true }],
    ["sqlite://anything?mode=memory", { dialect: "sqlite", filename: ":memory:" }],
    ["sqlite:?mode=memory", { dialect: "sqlite", filename: ":memory:" }],
    ["postgres://u@h:5432/db?sslmode=disable", { dialect: "pg", url: "postgres://u@h:5432/db?sslmode=disable" }],
    // A sqlite: URL's path is percent-decoded, as sqlx decodes it (found by an outside probe: my%20jobs.db was a new file).
    ["sqlite:///tmp/x/my%20jobs.db", { dialect: "sqlite", filename: "/tmp/x/my jobs.db" }],
    ["sqlite:data/what%3F.db?mode=ro", { dialect: "sqlite", filename: "data/what?.db", readonly: true }],
    ["sqlite:data/100%25%23.db", { dialect: "sqlite", filename: "data/100%#.db" }],
    ["sqlite:caf%C3%A9.db", { dialect: "sqlite", filename: "café.db" }],
    // Written with escapes, :memory: is a file of that name (sqlx's reading); a bare path is taken as written.
    ["sqlite:%3Amemory%3A", { dialect: "sqlite", filename: "./:memory:" }],
    ["./my%20jobs.db", { dialect: "sqlite", filename: "./my%20jobs.db" }]
  ]
  for (const [url, target] of parsed) {
    it(`R17 ${url} names ${JSON.stringify(target)}`, () => {
      assert.deepStrictEqual(Either.getOrThrow(Storage.parseDatabaseUrl(url)), target)
    })
  }

  const refused: ReadonlyArray<readonly [string, RegExp]> = [
    ["sqlite://data/handshake.db?cache=shared", /parameter cache is not supported/],
    ["sqlite://data/handshake.db?mode=wr", /mode=wr is not one of/],
    ["sqlite://?mode=ro", /names no file/],
    ["sqlite:", /names no file/],
    // Found by an outside probe: the first mode was read, the second ignored.
    ["sqlite:x.db?mode=memory&mode=rw", /gives mode more than once/],
    // A file name ends at U+0000 in the operating system: `other\u0000.db` opened `other`.
    ["data/other\u0000.db", /U\+0000 or a lone surrogate/],
    ["sqlite:data/x\uD800.db", /U\+0000 or a lone surrogate/],
    // A % that starts no escape: what was meant is not guessed (a % itself is %25).
    ["sqlite:data/100%.db", /a % that starts no escape/],
    ["sqlite:data/x%zz.db?mode=rw", /a % that starts no escape/],
    ["sqlite:data/x%2", /a % that starts no escape/],
    // Escapes that are no UTF-8 text (sqlx refuses them too), and one for U+0000.
    ["sqlite:data/x%FF.db", /no UTF-8 text/],
    ["sqlite:data/x%00.db", /decodes to U\+0000/],
    // A SQLite file: URI was a relative path here (./file:/tmp/x.db) and a URI where SQLite reads URIs:
    // refused either way, with the sqlite: form that says the same (found by an outside probe).
    ["file:/tmp/x.db", /a SQLite file: URI is not a path: name the file itself, or write it as sqlite:<path>/],
    ["file:///tmp/x.db?mode=ro", /file: URI is not a path/],
    ["file:x.db?mode=memory", /file: URI is not a path/],
    ["FILE:x.db?immutable=1", /file: URI is not a path/],
    ["sqlite:file:/tmp/x.db", /file: URI is not a path/],
    ["sqlite:file%3A/tmp/x.db?mode=rw", /file: URI is not a path/]
  ]
  for (const [url, reason] of refused) {
    it(`R17 ${JSON.stringify(url).slice(1, -1)} is refused with UnsupportedDatabaseUrl`, () => {
      const result = Storage.parseDatabaseUrl(url)
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) {
        assert.strictEqual(result.left._tag, "UnsupportedDatabaseUrl")
        assert.match(result.left.reason, reason)
      }
    })
  }

  it("R17 a password is never printed: in the user part or as a query parameter, in redactDatabaseUrl and in a refusal's url and message", () => {
    const masked: ReadonlyArray<readonly [string, string]> = [
      ["postgres://bob:s3cretpw@db:5432/jobs", "postgres://bob:***@db:5432/jobs"],
      ["postgres://bob@db/jobs?password=s3cretpw&sslmode=require", "postgres://bob@db/jobs?password=***&sslmode=require"],
      ["postgresql://db/jobs?user=bob&PASSWORD=s3cretpw", "postgresql://db/jobs?user=bob&PASSWORD=***"],
      ["postgres://db/jobs?sslpassword=s3cretpw", "postgres://db/jobs?sslpassword=***"],
      // Not a URL (the port is out of range): masked by pattern, as the refusal quotes it.
      ["postgres://bob:s3cretpw@db:99999/jobs?password=s3cretpw", "postgres://bob:***@db:99999/jobs?password=***"],
      // Nothing to hide: untouched, spelling included.
      ["postgres://u@h:5432/db?sslmode=disable", "postgres://u@h:5432/db?sslmode=disable"],
      ["sqlite://data/handshake.db?mode=ro", "sqlite://data/handshake.db?mode=ro"]
    ]
    for (const [url, shown] of masked) assert.strictEqual(Storage.redactDatabaseUrl(url), shown, url)
    const refused = Storage.parseDatabaseUrl("postgres://bob:s3cretpw@db:99999/jobs?password=s3cretpw")
    assert.isTrue(Either.isLeft(refused))
    if (Either.isLeft(refused)) {
      assert.notInclude(refused.left.url, "s3cretpw")
      assert.notInclude(refused.left.message, "s3cretpw")
      assert.include(refused.left.message, "postgres://bob:***@db:99999/jobs?password=***")
    }
  })

  // Found by an outside probe: a password holding `/`, `#` or `?` (not percent-encoded) makes the URL unparsable,
  // or parsable with the password read as a port and a path, and the whole password was printed.
  it("R17 a password holding /, #, ? or @ is masked up to the first @ followed by a host: in redactDatabaseUrl and in a refusal's url and message", () => {
    const masked: ReadonlyArray<readonly [string, string]> = [
      ["postgres://app:Zx9/Kq2+Lm@db.internal:5432/prod", "postgres://app:***@db.internal:5432/prod"],
      ["postgres://app:p#ssWORD99@db.internal:5432/prod", "postgres://app:***@db.internal:5432/prod"],
      ["postgres://app:ab?cdEF12@db.internal:5432/prod", "postgres://app:***@db.internal:5432/prod"],
      // `c` followed by `#` reads as a host (the url-password rule's reading too): what follows it is shown.
      ["postgres://app:a/b@c#d?e@db.internal/prod?password=s3cretpw", "postgres://app:***@c#d?e@db.internal/prod?password=***"],
      // Found by a regression probe: an @ in the query of an unparsable URL took the host with the password.
      ["postgres://app:Zx9/Kq2+Lm@db.internal:5432/prod?x=a@b", "postgres://app:***@db.internal:5432/prod?x=a@b"],
      ["postgres://app:Zx9/Kq@cd@db.internal/prod?notify=ops@example.com", "postgres://app:***@db.internal/prod?notify=ops@example.com"],
      // Parsable, the password read as host app's port 12 and a path: masked all the same.
      ["postgres://app:12/Kq2+Lm@db.internal/prod", "postgres://app:***@db.internal/prod"],
      // An @ the parser reads in the password: masked whole; an @ after the host is no password.
      ["postgres://app:p@ss@db.internal/prod", "postgres://app:***@db.internal/prod"],
      ["postgres://app:pw@db.internal/prod?application_name=a@b", "postgres://app:***@db.internal/prod?application_name=a@b"]
    ]
    for (const [url, shown] of masked) assert.strictEqual(Storage.redactDatabaseUrl(url), shown, url)
    for (const password of ["Zx9/Kq2+Lm", "p#ssWORD99", "ab?cdEF12"]) {
      const refused = Storage.parseDatabaseUrl(`postgres://app:${password}@db.internal:5432/prod`)
      assert.isTrue(Either.isLeft(refused), password)
      if (Either.isLeft(refused)) {
        assert.strictEqual(refused.left.url, "postgres://app:***@db.internal:5432/prod")
        assert.notInclude(refused.left.message, password)
      }
    }
  })

  it.effect("R17 mode=rw refuses a missing file with StorageError and creates none; mode=rwc creates it; then rw opens it", () =>
    Effect.gen(function*() {
      const filename = tempSqliteFile("url-mode-rw")
      const missing = yield* failureOf(Effect.flatMap(JobStore, (s) => s.listJobs()).pipe(Effect.provide(store(`sqlite://${filename}?mode=rw`))))
      assert.match(expectTag(missing, "StorageError").message, /mode=rw opens an existing one only/)
      assert.isFalse(fs.existsSync(filename), "no file was created")
      const job = yield* Effect.flatMap(JobStore, (s) => s.createJob(newJob())).pipe(Effect.provide(store(`sqlite://${filename}?mode=rwc`)))
      const listed = yield* Effect.flatMap(JobStore, (s) => s.listJobs()).pipe(Effect.provide(store(`sqlite://${filename}?mode=rw`)))
      assert.deepStrictEqual(listed.items.map((item) => item.job_id), [job.job_id])
    }))

  it.effect("R17 mode=ro reads the database and the database refuses a write with StorageError", () =>
    Effect.gen(function*() {
      const filename = tempSqliteFile("url-mode-ro")
      const job = yield* Effect.flatMap(JobStore, (s) => s.createJob(newJob())).pipe(Effect.provide(store(`sqlite:${filename}`)))
      yield* Effect.gen(function*() {
        const readOnly = yield* JobStore
        assert.deepStrictEqual((yield* readOnly.listJobs()).items.map((item) => item.job_id), [job.job_id])
        expectTag(yield* failureOf(readOnly.createJob(newJob())), "StorageError")
        assert.strictEqual((yield* readOnly.listJobs()).items.length, 1, "nothing written")
      }).pipe(Effect.provide(store(`sqlite://${filename}?mode=ro`)))
    }))

  it.effect("R17 a file whose name holds a space or a ? is reached through its percent-encoded sqlite: URL (default, mode=rw, mode=ro): its jobs listed, no other file made", () =>
    Effect.gen(function*() {
      const folder = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-url-escapes-"))
      for (const name of ["my jobs.db", "what?.db"]) {
        const filename = path.join(folder, name)
        const job = yield* Effect.flatMap(JobStore, (s) => s.createJob(newJob())).pipe(Effect.provide(store(filename)))
        const url = `sqlite://${filename.split("/").map(encodeURIComponent).join("/")}`
        assert.notInclude(url, name, "the name is written with escapes")
        for (const mode of ["", "?mode=rwc", "?mode=rw", "?mode=ro"]) {
          const listed = yield* Effect.flatMap(JobStore, (s) => s.listJobs()).pipe(Effect.provide(store(`${url}${mode}`)))
          assert.deepStrictEqual(listed.items.map((item) => item.job_id), [job.job_id], `${url}${mode}`)
        }
      }
      assert.sameMembers(fs.readdirSync(folder).filter((file) => file.endsWith(".db")), ["my jobs.db", "what?.db"])
      fs.rmSync(folder, { recursive: true })
    }))

  it.effect("R17 SqliteJobStore.layer refuses a file: URI (read as a relative path where URIs are off) with a StorageError naming the sqlite: form, creating nothing", () =>
    Effect.gen(function*() {
      assert.notStrictEqual(process.env["SQLITE_USE_URI"], "1", "this test is about a process that did not enable URIs")
      const folder = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-file-uri-"))
      for (const readonly of [false, true]) {
        const error = yield* failureOf(Effect.scoped(Layer.build(SqliteJobStore.layer({ filename: `file:${folder}/x.db`, readonly }))))
        expectTag(error, "StorageError")
        assert.match(error.message, /SqliteStore\.open "file:.*x\.db".*a SQLite file: URI is not a path: name the file itself, or write it as sqlite:<path>/)
      }
      assert.deepStrictEqual(fs.readdirSync(folder), [])
      fs.rmSync(folder, { recursive: true })
    }))

  it.effect("R17 SqliteJobStore.layer refuses a file name holding U+0000 or a lone surrogate with StorageError, and creates no file (the driver opened the name cut at U+0000)", () =>
    Effect.gen(function*() {
      const folder = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-nul-name-"))
      for (const name of ["jobs\u0000.bak", "jobs\uDC00.db"]) {
        expectTag(yield* failureOf(Effect.scoped(Layer.build(SqliteJobStore.layer({ filename: path.join(folder, name) })))), "StorageError")
      }
      assert.deepStrictEqual(fs.readdirSync(folder), [])
      fs.rmSync(folder, { recursive: true })
    }))
})
