/** Flight Recorder events without a database: schemas (R11, R12), privacy (R14), size bound. */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import { EventRecord, EventTypes } from "../../src/domain/EventRecord.js"
import { FlightEvent, FlightEventSchemas, FlightEventTypes } from "../../src/domain/FlightEvent.js"
import { EventTooLarge, InvalidEvent } from "../../src/internal/flight/Errors.js"
import { makePrepare } from "../../src/internal/flight/prepare.js"
import { contentHash, sanitize } from "../../src/internal/flight/Privacy.js"
import * as Redactor from "../../src/internal/flight/Redactor.js"
import { makeEvent, systemEvent } from "../../src/FlightRecorder.js"
import { badSystemEvents, eventOf, frEvt008Violation, gcSummaryEvent, ids, invalidEvents, validEvents, withField } from "./fixtures.js"

const prepare = makePrepare()
const decode = Schema.decodeUnknownEither(FlightEvent, { errors: "all", onExcessProperty: "error" })
const encode = Schema.encodeEither(FlightEvent)

/** Prepares and returns the stored body, failing the test on a rejection. */
const bodyOf = (event: unknown, options: Parameters<typeof makePrepare>[0] = {}) =>
  Effect.map(makePrepare(options)(event), (record) => record.body as Record<string, unknown>)

describe("R12 event schemas", () => {
  it("R12 the union's types are exactly EventTypes, each schema keyed by its own type", () => {
    assert.deepStrictEqual([...FlightEventTypes], [...EventTypes])
    assert.deepStrictEqual(Object.keys(FlightEventSchemas), [...EventTypes])
    for (const [type, schema] of Object.entries(FlightEventSchemas)) {
      // `system` has two shapes (a job lifecycle change, a Janitor summary); every member carries its type.
      const members = "members" in schema ? schema.members : [schema]
      for (const member of members) assert.deepStrictEqual<ReadonlyArray<string>>(member.fields.type.literals, [type])
    }
  })

  for (const type of EventTypes) {
    it(`R11 R12 a valid ${type} event decodes and re-encodes exactly`, () => {
      const decoded = decode(validEvents[type])
      assert.isTrue(Either.isRight(decoded), Either.isLeft(decoded) ? String(decoded.left) : "")
      assert.deepStrictEqual(Either.getOrThrow(encode(Either.getOrThrow(decoded))), validEvents[type])
    })

    it.effect(`R10 R14 a valid ${type} event is prepared into a record whose body is the event`, () =>
      Effect.gen(function*() {
        const record = yield* prepare(validEvents[type])
        assert.deepStrictEqual(record.body, validEvents[type])
        assert.strictEqual(record.type, type)
        assert.strictEqual<string>(record.event_id, ids.event)
        assert.strictEqual<string>(record.trace_id, ids.trace)
        assert.strictEqual<string | null>(record.job_id, "job_id" in validEvents[type] ? ids.job : null)
        assert.strictEqual<string | null>(record.workflow_run_id, "workflow_run_id" in validEvents[type] ? ids.run : null)
        // The record is a valid EventRecord, as every store expects.
        assert.isTrue(Schema.is(EventRecord)(record))
      }))
  }

  it.effect("R11 an offset timestamp is stored in the one canonical form", () =>
    Effect.gen(function*() {
      const body = yield* bodyOf(withField("diagnostic", { timestamp: "2026-01-20T01:59:37.328+02:00" }))
      assert.strictEqual(body["timestamp"], "2026-01-19T23:59:37.328Z")
    }))
})

describe("R12 the spec's and the reference's shapes are accepted as they are written", () => {
  const accepted: ReadonlyArray<readonly [string, Readonly<Record<string, unknown>>]> = [
    // spec 11.5 types these `number`; the reference checks `require_number(_or_null)`.
    ["llm_inference with a fractional latency_ms", withField("llm_inference", { latency_ms: 12.5 })],
    ["llm_inference with a null latency_ms", withField("llm_inference", { latency_ms: null })],
    ["terminal_command with a fractional duration_ms", withField("terminal_command", { duration_ms: 3.75 })],
    ["workflow_recovery with a fractional threshold_secs", withField("workflow_recovery", { threshold_secs: 30.5 })],
    // The reference's FrEvt004CapabilityAction: `job_id: Option<String>`, present and possibly null.
    ["capability_action outside any job (job_id null)", withField("capability_action", { job_id: null })],
    // The reference's FrEvt008SecurityViolation, as its workflows.rs records a poisoning.
    ["security_violation in FR-EVT-008's shape", frEvt008Violation],
    ["security_violation in FR-EVT-008's shape without its optional fields", (() => {
      const { context: _c, job_state_transition: _j, offset: _o, source_id: _s, ...core } = frEvt008Violation
      return core
    })()],
    ["security_violation in ours with FR-EVT-008's action_taken", withField("security_violation", { action_taken: "blocked" })]
  ]
  for (const [name, input] of accepted) {
    it.effect(`R10 R12 accepts: ${name}, and stores it as sent`, () =>
      Effect.gen(function*() {
        const record = yield* prepare(input)
        assert.deepStrictEqual(record.body, input)
        assert.strictEqual<string | null>(record.job_id, typeof input["job_id"] === "string" ? input["job_id"] : null)
      }))
  }
})

describe("R10 invalid events are rejected with HSK-400-INVALID-EVENT", () => {
  it("R10 the table covers at least 30 invalid events", () => {
    assert.isAtLeast(invalidEvents.length, 30)
  })

  for (const [name, input, path] of invalidEvents) {
    it.effect(`R10 rejects: ${name}`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(prepare(input))
        assert.instanceOf(error, InvalidEvent)
        if (!(error instanceof InvalidEvent)) return
        assert.strictEqual(error.code, "HSK-400-INVALID-EVENT")
        assert.isTrue(
          error.reasons.some((reason) => reason.path === path),
          `expected a reason at "${path}", got ${JSON.stringify(error.reasons)}`
        )
        assert.include(error.message, path === "" ? "(event)" : path)
      }))
  }

  it.effect("R10 every problem is reported, not just the first", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(prepare(withField("workflow_recovery", { actor: "agent", threshold_secs: -1, reason: undefined })))
      assert.instanceOf(error, InvalidEvent)
      if (!(error instanceof InvalidEvent)) return
      assert.strictEqual(error.event_type, "workflow_recovery")
      assert.deepStrictEqual(error.reasons.map((reason) => reason.path).sort(), ["actor", "reason", "threshold_secs"])
    }))
})

describe("R10 a system event's reasons are those of the shape it is", () => {
  it.effect("R10 R12 a valid Janitor summary is prepared as sent", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual((yield* prepare(gcSummaryEvent)).body, gcSummaryEvent)
    }))

  for (const [name, input, paths] of badSystemEvents) {
    it.effect(`R10 prepare refuses ${name}, naming only that shape's problems`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(prepare(input))
        assert.instanceOf(error, InvalidEvent)
        if (!(error instanceof InvalidEvent)) return
        assert.strictEqual(error.event_type, "system")
        assert.deepStrictEqual(error.reasons.map((reason) => reason.path).sort(), [...paths], JSON.stringify(error.reasons))
      }))
  }
})

describe("R14 normalisation and redaction", () => {
  it.effect("R14 strings are stored NFC-normalised", () =>
    Effect.gen(function*() {
      const body = yield* bodyOf(withField("diagnostic", { source: "caf\u0065\u0301 cr\u0065\u0300me", diagnostic_id: "A\u030A" }))
      assert.strictEqual(body["source"], "caf\u00e9 cr\u00e8me")
      assert.strictEqual(body["diagnostic_id"], "\u00c5")
    }))

  it("R14 sanitize normalises keys and values at any depth", () => {
    const redactor = Redactor.make()
    assert.deepStrictEqual(
      sanitize({ "cafe\u0301": ["e\u0301", { "n\u0303": "Bearer tok" }], n: 1, b: true, z: null }, redactor),
      { "caf\u00e9": ["\u00e9", { "\u00f1": "Bearer [REDACTED]" }], n: 1, b: true, z: null }
    )
  })

  const redactions: ReadonlyArray<readonly [string, string, string]> = [
    ["bearer token", "curl -H 'Authorization: Bearer abc.def.ghi' https://api.example.com", "curl -H 'Authorization: Bearer [REDACTED]' https://api.example.com"],
    ["lowercase bearer", "authorization: bearer eyJhbGciOi.J9.x-y_z", "authorization: bearer [REDACTED]"],
    ["URL password", "psql postgres://app:hunter2@db:5432/x", "psql postgres://app:[REDACTED]@db:5432/x"],
    ["URL password, https", "git clone https://bob:s3cr%40t@git.example.com/r.git", "git clone https://bob:[REDACTED]@git.example.com/r.git"],
    ["URL without password", "open https://example.com:8443/a@b", "open https://example.com:8443/a@b"],
    ["project API key", "OPENAI_API_KEY=sk-proj-AbC123dEf456GhI789_jKl-0 run", "OPENAI_API_KEY=[REDACTED] run"],
    ["classic API key", "key sk-AbCdEfGhIjKlMnOpQrStUv and sk-0123456789abcdefXYZ", "key [REDACTED] and [REDACTED]"],
    ["short sk- word kept", "task sk-short is fine", "task sk-short is fine"],
    ["two secrets in one string", "Bearer t1 then mysql://u:p@h/db", "Bearer [REDACTED] then mysql://u:[REDACTED]@h/db"],
    // The kinds of secret the reference's Secret Redactor (bundles/redactor.rs) catches, its own test's key first.
    ["the reference's test key", "sk-abc123def456ghi789", "[REDACTED]"],
    ["a short sk- key (10 letters and digits)", "use sk-abc123def4 now", "use [REDACTED] now"],
    ["a hyphenated sk- word kept", "pip install sk-learn-tutorial", "pip install sk-learn-tutorial"],
    ["AWS access key id", "AKIAIOSFODNN7EXAMPLE and ASIAIOSFODNN7EXAMPLE", "[REDACTED] and [REDACTED]"],
    ["AWS secret key assignment", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws_secret_access_key = [REDACTED]"],
    ["GitHub tokens", `git push https://${"ghp_" + "a".repeat(36)}@github.com and github_pat_${"A".repeat(22)}_${"b".repeat(59)}`, "git push https://[REDACTED]@github.com and [REDACTED]"],
    ["Slack tokens", "xoxb-1234567890-abcdefghij xapp-1-A0123456789-abc", "[REDACTED] [REDACTED]"],
    // Found by an outside mutation audit: these forms were caught by the rules, but no test said so.
    ["GitHub server-to-server and refresh tokens (ghs_, ghr_)", `ghs_${"a".repeat(36)} and ghr_${"b".repeat(36)} x`, "[REDACTED] and [REDACTED] x"],
    ["Slack user, refresh-form and legacy tokens (xoxp-, xoxr-, xoxs-)", "xoxp-1234567890-abcdefghij xoxr-1234567890-abcdefghij xoxs-1234567890-abcdefghij x", "[REDACTED] [REDACTED] [REDACTED] x"],
    // Found by the same audit: token rotation's refresh token was stored as given, its access token's xoxe. prefix kept.
    ["Slack token rotation's refresh (xoxe-1-) and access (xoxe.xoxp-1-) tokens, whole",
      "refresh xoxe-1-My0xLTEyMzQ1Njc4OTAxMjMtMTIzNDU2Nzg5MDEyMy1hYmNkZWY access xoxe.xoxp-1-Mi0yLTEyMzQ1Njc4OTAxMi0xMjM0NTY3ODkw x",
      "refresh [REDACTED] access [REDACTED] x"],
    ["Google API key", `key=AIza${"B".repeat(35)}&q=1`, "key=[REDACTED]&q=1"],
    ["a JSON Web Token on its own", "?jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fw", "?jwt=[REDACTED]"],
    ["a PEM private key block", "key: -----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY----- done", "key: [REDACTED] done"],
    ["a PEM private key cut off before its END line", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1r", "[REDACTED]"],
    ["password assignments", "export DB_PASSWORD=hunter2 && login --password: s3cret", "export DB_PASSWORD=[REDACTED] && login --password: [REDACTED]"],
    ["refresh_token and passphrase assignments", "refresh_token: abc123 passphrase=hunter2 x", "refresh_token: [REDACTED] passphrase=[REDACTED] x"],
    ["named secrets in JSON, quoted values whole", `{"api_key": "k 1,2", "user": "ann", 'client-secret': 'x'}`, `{"api_key": "[REDACTED]", "user": "ann", 'client-secret': '[REDACTED]'}`],
    ["token and secret assignments", "MY_TOKEN=abc SECRET=xyz https://x/cb?access_token=t0&state=1", "MY_TOKEN=[REDACTED] SECRET=[REDACTED] https://x/cb?access_token=[REDACTED]&state=1"],
    ["token and secret in prose kept", "unexpected token: } max_tokens: 4096 token_usage the secret: none", "unexpected token: } max_tokens: 4096 token_usage the secret: none"],
    // Found by an outside probe: a flag's next word was stored (only `--password=…` was caught).
    ["a secret after a --flag", `mysql --password hunter2 --api-key "k 1" --user ann --token abc`, `mysql --password [REDACTED] --api-key "[REDACTED]" --user ann --token [REDACTED]`],
    ["a --flag followed by a flag, and single-dash prose, kept", "run --password --verbose; a one-time-password reset", "run --password --verbose; a one-time-password reset"],
    // Found by the probe of the rule itself: a flag that only contains a secret's name is none.
    ["a flag that only contains a secret's name kept", "ssh-keygen --passphrase-prompt always --no-password x --token-count 512 --password-file /p --db-password pw",
      "ssh-keygen --passphrase-prompt always --no-password x --token-count 512 --password-file /p --db-password [REDACTED]"],
    // Found by an outside probe: a value ended at `;`, `&`, `,` or a quote, and at a quote escaped inside a
    // quoted one, and its rest was stored. A value runs to the next space; a quoted one to its closing quote.
    ["a named secret holding ; & , or quotes, whole",
      `rotated: DB_PASSWORD=Xy7;k9!pQ2zR PGPASSWORD=tr0ub4dor&3horse --password=abc,defGHI123 password=it'sMyS3cretPass client_secret=q8"Zp2LmN4 done`,
      "rotated: DB_PASSWORD=[REDACTED] PGPASSWORD=[REDACTED] --password=[REDACTED] password=[REDACTED] client_secret=[REDACTED] done"],
    ["a quoted secret whole, its backslash escapes and shell '\\'' joins in it",
      `PGPASSWORD='it'\\''sMyS3cretPass' psql -c 'select 1'; {"password": "ab\\"cdTAIL", "user": "ann"}; --api-key "k\\" 1" --user ann`,
      `PGPASSWORD='[REDACTED]' psql -c 'select 1'; {"password": "[REDACTED]", "user": "ann"}; --api-key "[REDACTED]" --user ann`],
    // A URL's query writes a `&` of a value as `%26`: there a parameter ends at `&` (or `#`). A connection
    // string's value may hold `;`: what follows it is redacted too, a word too many rather than a secret's tail.
    ["a URL query's secret to the next parameter, a connection string's to the next space",
      "https://x/cb?password=a;b&user=y#top and Host=db;password=x;Port=5432 end",
      "https://x/cb?password=[REDACTED]&user=y#top and Host=db;password=[REDACTED] end"],
    // Found by an outside probe: HTTP Basic credentials and ODBC's Pwd were stored.
    ["HTTP Basic credentials after the header's name, ODBC's Pwd, credentials, auth and access keys in an assignment",
      "curl -H 'Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l' Server=db;Uid=sa;Pwd=Hunter2Odbc; credentials=u:p auth=k1 AWS_ACCESS_KEY: k2 --access-key k3",
      "curl -H 'Authorization: Basic [REDACTED]' Server=db;Uid=sa;Pwd=[REDACTED] credentials=[REDACTED] auth=[REDACTED] AWS_ACCESS_KEY: [REDACTED] --access-key [REDACTED]"],
    ["Basic as a word, auth and credentials in prose, kept",
      "Basic usage: auth: failed, bad credentials: retry; the author=Ann",
      "Basic usage: auth: failed, bad credentials: retry; the author=Ann"]
  ]
  for (const [name, input, expected] of redactions) {
    it.effect(`R14 redacts ${name}`, () =>
      Effect.gen(function*() {
        const body = yield* bodyOf(withField("terminal_command", { command: input }))
        assert.strictEqual(body["command"], expected)
      }))
  }

  it.effect("R14 redaction reaches every string field, arrays included", () =>
    Effect.gen(function*() {
      const body = yield* bodyOf(withField("terminal_command", {
        cwd: "/srv/sk-proj-AbC123dEf456GhI789",
        wsids: ["ws-1", "Bearer zzz"]
      }))
      assert.strictEqual(body["cwd"], "/srv/[REDACTED]")
      assert.deepStrictEqual(body["wsids"], ["ws-1", "Bearer [REDACTED]"])
    }))

  // Found by an outside probe (both stores alike): only each string was redacted, on its own, so a secret
  // the JSON's structure names — a value under a secret's key, a secret in a key, a flag's next item — was stored.
  it("R14 a secret named by the JSON's structure is redacted: the value under a secret's key (but a boolean or null), a name/value pair's value, a secret in a key, the item after a --flag", () => {
    const redactor = Redactor.make()
    assert.deepStrictEqual(
      sanitize({
        password: "hunter2",
        api_key: "abcd1234",
        nested: { client_secret: "xyz789", DB_PASSWORD: "p", bot_token: "t", user: "ann" },
        "password=hunter2": 1,
        // Numbers and other values under such a name are kept (`token_count`), as are names that only contain a word.
        token_count: 3,
        prompt_tokens: "120",
        password_set: true,
        args: ["--password", "hunter2", "--user", "ann", "--token", "--verbose", "--client-secret", "s"],
        // Found by the probe of the rule itself: a value under a secret's key that is no string, a name/value
        // pair, a header; and flags or keys that only contain a secret's name, which are none.
        numbers: { password: 123456, api_key: { primary: "k-live-abc123" }, client_secret: ["s1"], password_unset: null, password_given: true },
        env: [{ name: "DB_PASSWORD", value: "hunter2" }, { key: "api_key", value: 42 }, { name: "HOME", value: "/root" }],
        headers: { Authorization: "Basic dXNlcjpwYXNz", cookie: "session=abc", accept: "json" },
        kept: { password_hash: "sha256:x", password_file: "/etc/pw", token_count: 3 },
        flags: ["--no-password", "deploy.yml", "--token-count", "512", "--password-file", "/etc/pw", "--secret-name", "prod-db", "--db-password", "pw"]
      }, redactor),
      {
        password: "[REDACTED]",
        api_key: "[REDACTED]",
        nested: { client_secret: "[REDACTED]", DB_PASSWORD: "[REDACTED]", bot_token: "[REDACTED]", user: "ann" },
        "password=[REDACTED]": 1,
        token_count: 3,
        prompt_tokens: "120",
        password_set: true,
        args: ["--password", "[REDACTED]", "--user", "ann", "--token", "--verbose", "--client-secret", "[REDACTED]"],
        numbers: { password: "[REDACTED]", api_key: "[REDACTED]", client_secret: "[REDACTED]", password_unset: null, password_given: true },
        env: [{ name: "DB_PASSWORD", value: "[REDACTED]" }, { key: "api_key", value: "[REDACTED]" }, { name: "HOME", value: "/root" }],
        headers: { Authorization: "[REDACTED]", cookie: "[REDACTED]", accept: "json" },
        kept: { password_hash: "sha256:x", password_file: "/etc/pw", token_count: 3 },
        flags: ["--no-password", "deploy.yml", "--token-count", "512", "--password-file", "/etc/pw", "--secret-name", "prod-db", "--db-password", "[REDACTED]"]
      }
    )
    // Without the default rules, no name is a secret's.
    assert.deepStrictEqual(sanitize({ password: "hunter2", args: ["--password", "x"] }, Redactor.make({ withDefaults: false })), { password: "hunter2", args: ["--password", "x"] })
  })

  // Found by a second probe of the rule: names with a suffix, capitalised pairs, header pairs and numbers after a flag were
  // stored; special and paging tokens, and prose across a line, were taken for secrets.
  it("R14 a secret's name with a suffix is one, a name about a secret or a tokenizer's special token is not", () => {
    const redactor = Redactor.make()
    const secret = ["DB_PASSWORD_PROD", "password_confirmation", "password1", "SECRET_KEY_BASE", "api_key_v2", "passwordConfirm", "csrf_token", "newpassword", "private_key",
      // Found by an outside probe: stored as given.
      "pwd", "Pwd", "passwd", "credentials", "credential", "auth", "bearer", "access_key", "ACCESS_KEY", "accessKey", "access-key", "privateKey", "client_secret", "clientSecret", "oauth"]
    const notSecret = ["password_file", "token_count", "password_hash", "passwordHash", "prompt_tokens", "MAX_TOKENS", "tokenizer", "eos_token", "next_page_token", "secretary", "password=[REDACTED]",
      "author", "AUTHOR", "authority", "auth_method", "authProvider", "credentials_file", "access_key_id", "pwd_hash"]
    const stored = sanitize(Object.fromEntries([...secret, ...notSecret].map((key) => [key, "v"])), redactor) as Record<string, unknown>
    assert.deepStrictEqual(secret.filter((key) => stored[key] !== "[REDACTED]"), [], "names of secrets")
    assert.deepStrictEqual(notSecret.filter((key) => stored[key] !== "v"), [], "names that are not")
    assert.deepStrictEqual(
      sanitize({
        aws: [{ Name: "DB_PASSWORD", Value: "hunter2" }, { Name: "REGION", Value: "eu" }],
        headers: [["Authorization", "Basic dXNlcjpwYXNz"], ["Accept", "json"]],
        args: ["--token", 123456, "--password", "-x", "--db-password-prod", "p"],
        note: "run --password\nnext line",
        // A list on its own is no pair: a command's words.
        command: ["token", "list"]
      }, redactor),
      {
        aws: [{ Name: "DB_PASSWORD", Value: "[REDACTED]" }, { Name: "REGION", Value: "eu" }],
        headers: [["Authorization", "[REDACTED]"], ["Accept", "json"]],
        args: ["--token", "[REDACTED]", "--password", "-x", "--db-password-prod", "[REDACTED]"],
        note: "run --password\nnext line",
        command: ["token", "list"]
      }
    )
  })

  it.effect("R14 the recorder stores a structured secret redacted: an edit's applied_suggestions, a command's args", () =>
    Effect.gen(function*() {
      const edit = yield* bodyOf(withField("editor_edit", {
        applied_suggestions: [{ password: "hunter2", nested: { client_secret: "xyz789" }, "password=hunter2": 1 }]
      }))
      assert.deepStrictEqual(edit["applied_suggestions"], [{ password: "[REDACTED]", nested: { client_secret: "[REDACTED]" }, "password=[REDACTED]": 1 }])
      const command = yield* bodyOf(withField("terminal_command", { command: "mysql", args: ["--password", "hunter2"] }))
      assert.deepStrictEqual(command["args"], ["--password", "[REDACTED]"])
    }))

  it.effect("R14 two keys that redaction makes one are refused, naming both, never one value lost", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(prepare(withField("editor_edit", { applied_suggestions: [{ "password=a": 1, "password=b": 2 }] })))
      assert.instanceOf(error, InvalidEvent)
      if (error instanceof InvalidEvent) {
        assert.deepStrictEqual(error.reasons.map((reason) => reason.path), ["applied_suggestions.0"])
        // Named as stored: the refusal does not quote the secrets either.
        assert.include(error.reasons[0]!.message, `two keys are both stored as "password=[REDACTED]"`)
        assert.notInclude(error.reasons[0]!.message, "password=a")
      }
    }))

  // Found by an outside probe: the text was checked once redacted, so a NUL inside a secret went with it.
  it.effect("R5 R14 text with U+0000 or a lone surrogate is refused as given, never redacted into storable text: a field, a flag's secret, a value under a secret's key", () =>
    Effect.gen(function*() {
      const pathOf = (event: unknown) =>
        Effect.map(Effect.flip(prepare(event)), (error) => error instanceof InvalidEvent ? error.reasons.map((reason) => [reason.path, reason.message]) : error)
      const refusal = (path: string) => [[path, "Text must not contain U+0000 (NUL) or a lone UTF-16 surrogate"]]
      assert.deepStrictEqual(yield* pathOf(withField("terminal_command", { command: "mysql password=hunter2\u0000" })), refusal("command"))
      assert.deepStrictEqual(yield* pathOf(withField("terminal_command", { command: "Bearer abc \uD800 def" })), refusal("command"))
      assert.deepStrictEqual(yield* pathOf(withField("terminal_command", { args: ["--password", "x\uDC00"] })), refusal("args.1"))
      // Free JSON is refused by its decode, as given, before any of this.
      assert.deepStrictEqual(yield* pathOf(withField("editor_edit", { applied_suggestions: [{ password: "x\u0000y" }] })), [[
        "applied_suggestions.0.password",
        "Text must not contain U+0000 (NUL) or a lone UTF-16 surrogate: neither can be stored as UTF-8 text"
      ]])
    }))

  it.effect("R5 R14 a caller's rule that writes U+0000 or cuts a surrogate pair makes the event invalid, never stored", () =>
    Effect.gen(function*() {
      const rules = [{ name: "nul", pattern: /NUL/g, replacement: "\u0000" }, { name: "half", pattern: /\uDE00/g, replacement: "" }]
      const redactor = Redactor.make({ rules })
      for (const source of ["a NUL here", "half \uD83D\uDE00 a pair"]) {
        const error = yield* Effect.flip(makePrepare({ redactor })(withField("diagnostic", { source })))
        assert.instanceOf(error, InvalidEvent)
      }
      assert.isTrue(Redactor.make().keepsTextStorable)
      assert.isFalse(redactor.keepsTextStorable)
    }))

  it.effect("R5 boxed primitives and an Error in an event's free JSON are InvalidEvent naming the path, never stored as {} or {\"0\":…}", () =>
    Effect.gen(function*() {
      const given = { n: new Number(5), s: new String("ab"), b: new Boolean(false), e: new Error("boom") }
      for (const [key, words] of [["n", "boxed Number"], ["s", "boxed String"], ["b", "boxed Boolean"], ["e", "an Error"]] as const) {
        const error = yield* Effect.flip(prepare(withField("editor_edit", { applied_suggestions: [{ [key]: given[key] }] })))
        assert.instanceOf(error, InvalidEvent, key)
        if (error instanceof InvalidEvent) {
          assert.deepStrictEqual(error.reasons.map((reason) => reason.path), [`applied_suggestions.0.${key}`], key)
          assert.include(error.reasons[0]!.message, words, key)
        }
      }
    }))

  it.effect("R14 the schemas' own field names are never redacted: a caller's rule matching one (/token/) leaves token_usage whole", () =>
    Effect.gen(function*() {
      const redactor = Redactor.make({ rules: [{ name: "tokens", pattern: /token/g, replacement: "[T]" }] })
      const body = yield* bodyOf(validEvents.llm_inference, { redactor })
      assert.deepStrictEqual(body["token_usage"], { prompt_tokens: 120, completion_tokens: 30, total_tokens: 150 })
      // A caller's key is still the rule's: applied_suggestions' keys are no field names.
      const edit = yield* bodyOf(withField("editor_edit", { applied_suggestions: [{ my_token: 1 }] }), { redactor })
      assert.deepStrictEqual(edit["applied_suggestions"], [{ "my_[T]": 1 }])
    }))

  it.effect("R14 user rules apply after the defaults, on every match even without the g flag", () =>
    Effect.gen(function*() {
      const redactor = Redactor.make({
        rules: [{ name: "github", pattern: /ghp_[A-Za-z0-9]{20,}/, replacement: "[GITHUB-TOKEN]" }]
      })
      const body = yield* bodyOf(
        withField("diagnostic", { source: "ghp_aaaaaaaaaaaaaaaaaaaaaaaa and ghp_bbbbbbbbbbbbbbbbbbbbbbbb with Bearer x" }),
        { redactor }
      )
      assert.strictEqual(body["source"], "[GITHUB-TOKEN] and [GITHUB-TOKEN] with Bearer [REDACTED]")
    }))

  // Found by an outside mutation audit: no test said a Set-Cookie header is one, nor that a rule's own output is normalised.
  it("R14 the text under a Set-Cookie header (a response's cookie) is redacted, as under Cookie", () => {
    assert.deepStrictEqual(
      sanitize({ request: { Cookie: "session=abc" }, response: { "Set-Cookie": "session=def; Path=/", set_cookie: "id=1" }, pairs: [["Set-Cookie", "session=ghi"]] }, Redactor.make()),
      { request: { Cookie: "[REDACTED]" }, response: { "Set-Cookie": "[REDACTED]", set_cookie: "[REDACTED]" }, pairs: [["Set-Cookie", "[REDACTED]"]] }
    )
  })

  // Found by a probe: a list under a Set-Cookie key (one cookie an item, as Node gives it) was stored as given.
  it("R14 a list under a Cookie or Set-Cookie header has each text item redacted, its length kept", () => {
    assert.deepStrictEqual(
      sanitize({
        response: { "set-cookie": ["sid=s3cr3t; Path=/", "theme=dark"], Cookie: ["a=1"] },
        pairs: [["Set-Cookie", ["sid=s3cr3t"]]],
        env: [{ name: "Set-Cookie", value: ["sid=s3cr3t"] }],
        // A header's list keeps what is no text, sanitised as any value.
        odd: { "set-cookie": [null, 3, { note: "password=hunter2" }] }
      }, Redactor.make()),
      {
        response: { "set-cookie": ["[REDACTED]", "[REDACTED]"], Cookie: ["[REDACTED]"] },
        pairs: [["Set-Cookie", ["[REDACTED]"]]],
        env: [{ name: "Set-Cookie", value: ["[REDACTED]"] }],
        odd: { "set-cookie": [null, 3, { note: "password=[REDACTED]" }] }
      }
    )
  })

  it.effect("R14 a caller rule's replacement is stored NFC-normalised too (e + U+0301 becomes \u00e9)", () =>
    Effect.gen(function*() {
      const redactor = Redactor.make({ rules: [{ name: "decomposed", pattern: /SECRETX/g, replacement: "e\u0301" }] })
      const body = yield* bodyOf(withField("diagnostic", { source: "a SECRETX b" }), { redactor })
      assert.strictEqual(body["source"], "a \u00e9 b")
      assert.deepStrictEqual(sanitize({ note: "SECRETX" }, redactor), { note: "\u00e9" })
    }))

  it.effect("R14 text is NFC-normalised before the rules run: a caller rule for precomposed text catches it written decomposed", () =>
    Effect.gen(function*() {
      const redactor = Redactor.make({ rules: [{ name: "codename", pattern: /caf\u00e9-7/g, replacement: "[CODENAME]" }] })
      const body = yield* bodyOf(withField("diagnostic", { source: "project cafe\u0301-7 ships" }), { redactor })
      assert.strictEqual(body["source"], "project [CODENAME] ships")
    }))

  it.effect("R14 a rule that would break a field makes the event invalid rather than storing it", () =>
    Effect.gen(function*() {
      const redactor = Redactor.make({ rules: [{ name: "uuids", pattern: /[0-9a-f]{8}-[0-9a-f-]{27}/, replacement: "[ID]" }] })
      const error = yield* Effect.flip(makePrepare({ redactor })(validEvents.diagnostic))
      assert.instanceOf(error, InvalidEvent)
      if (error instanceof InvalidEvent) assert.isTrue(error.reasons.some((reason) => reason.path === "event_id"))
    }))
})

describe("R14 raw content only in debug mode", () => {
  const prompt = "Summarise: my key is sk-proj-AbC123dEf456GhI789"
  const llm = withField("llm_inference", { prompt_text: prompt, response_text: "ok", prompt_hash: undefined })
  delete (llm as Record<string, unknown>)["prompt_hash"]

  it.effect("R14 without debug, prompt and response text are dropped and kept as hashes", () =>
    Effect.gen(function*() {
      const body = yield* bodyOf(llm)
      assert.isFalse("prompt_text" in body)
      assert.isFalse("response_text" in body)
      assert.strictEqual(body["prompt_hash"], contentHash(prompt))
      assert.match(String(body["prompt_hash"]), /^sha256:[0-9a-f]{64}$/)
      // A hash the caller gave wins over the computed one.
      assert.strictEqual(body["response_hash"], validEvents.llm_inference.response_hash)
    }))

  it.effect("R14 a hash given as null (the spec types it string | null) is no hash: the dropped text's own is filled in", () =>
    Effect.gen(function*() {
      const body = yield* bodyOf(withField("llm_inference", { prompt_text: prompt, prompt_hash: null, response_text: "ok", response_hash: null }))
      assert.isFalse("prompt_text" in body)
      assert.isFalse("response_text" in body)
      assert.strictEqual(body["prompt_hash"], contentHash(prompt))
      assert.strictEqual(body["response_hash"], contentHash("ok"))
    }))


  it.effect("R14 with debug on, raw content is kept, redacted", () =>
    Effect.gen(function*() {
      const body = yield* bodyOf(llm, { debug: true })
      assert.strictEqual(body["prompt_text"], "Summarise: my key is [REDACTED]")
      assert.strictEqual(body["response_text"], "ok")
      assert.isFalse("prompt_hash" in body)
    }))
})

describe("R14 the reference's redacted terminal output only in debug mode (FR-EVT-001)", () => {
  const terminal = withField("terminal_command", { redacted_output: "token sk-proj-AbC123dEf456GhI789 printed", truncated_bytes: 12 })

  it.effect("R14 without debug, redacted_output is dropped; the rest of the event kept", () =>
    Effect.gen(function*() {
      const body = yield* bodyOf(terminal)
      assert.isFalse("redacted_output" in body)
      assert.strictEqual(body["truncated_bytes"], 12)
      assert.strictEqual(body["stdout_ref"], validEvents.terminal_command.stdout_ref)
    }))

  it.effect("R14 with debug on, redacted_output is kept, redacted again", () =>
    Effect.gen(function*() {
      const body = yield* bodyOf(terminal, { debug: true })
      assert.strictEqual(body["redacted_output"], "token [REDACTED] printed")
    }))
})

describe("R14 an edit's text only in debug mode (FR-EVT-002)", () => {
  const range = { startLine: 1, startColumn: 1, endLine: 1, endColumn: 4 }
  const edit = withField("editor_edit", {
    ops: [
      { range, insert_text: "let key = 'sk-proj-AbC123dEf456GhI789'", delete_text: "old" },
      { range: { ...range, startLine: 2, endLine: 2 } },
      { range: { ...range, startLine: 3, endLine: 3 }, delete_text: "gone" }
    ]
  })

  it.effect("R14 without debug, each op's insert_text and delete_text are dropped; ranges and the event's hashes kept", () =>
    Effect.gen(function*() {
      const body = yield* bodyOf(edit)
      assert.deepStrictEqual(body["ops"], [{ range }, { range: { ...range, startLine: 2, endLine: 2 } }, { range: { ...range, startLine: 3, endLine: 3 } }])
      assert.strictEqual(body["before_hash"], validEvents.editor_edit.before_hash)
      assert.strictEqual(body["after_hash"], validEvents.editor_edit.after_hash)
    }))

  it.effect("R14 with debug on, the edit text is kept, redacted", () =>
    Effect.gen(function*() {
      const body = yield* bodyOf(edit, { debug: true })
      const ops = body["ops"] as ReadonlyArray<Record<string, unknown>>
      assert.strictEqual(ops[0]?.["insert_text"], "let key = '[REDACTED]'")
      assert.strictEqual(ops[0]?.["delete_text"], "old")
      assert.strictEqual(ops[2]?.["delete_text"], "gone")
    }))
})

describe("R14 size bound", () => {
  it.effect("R14 an event over 64 KiB of JSON is refused with EventTooLarge, nothing truncated", () =>
    Effect.gen(function*() {
      const event = withField("diagnostic", { source: "x".repeat(70_000) })
      const error = yield* Effect.flip(prepare(event))
      assert.instanceOf(error, EventTooLarge)
      if (!(error instanceof EventTooLarge)) return
      assert.strictEqual(error.limit_bytes, 65_536)
      assert.strictEqual(error.size_bytes, JSON.stringify(event).length)
      assert.strictEqual(error.event_type, "diagnostic")
    }))

  it.effect("R14 the bound is configurable and counts UTF-8 bytes of the stored form, inclusive", () =>
    Effect.gen(function*() {
      const event = withField("diagnostic", { source: "é".repeat(100) })
      const size = Buffer.byteLength(JSON.stringify(event), "utf8")
      const record = yield* makePrepare({ maxEventBytes: size })(event)
      assert.strictEqual((record.body as { source: string }).source, "é".repeat(100))
      const error = yield* Effect.flip(makePrepare({ maxEventBytes: size - 1 })(event))
      assert.instanceOf(error, EventTooLarge)
      if (error instanceof EventTooLarge) assert.strictEqual(error.size_bytes, size)
    }))

  it.effect("R14 raw content counts only when it is stored (debug on)", () =>
    Effect.gen(function*() {
      const event = withField("llm_inference", { prompt_text: "y".repeat(100_000) })
      const body = yield* bodyOf(event)
      assert.isFalse("prompt_text" in body)
      const error = yield* Effect.flip(makePrepare({ debug: true })(event))
      assert.instanceOf(error, EventTooLarge)
    }))
})

describe("R10 event builders", () => {
  it.effect("R10 makeEvent fills a fresh event_id and the Clock's time", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2026-03-01T12:00:00.250Z"))
      const a = yield* makeEvent("diagnostic", { actor: "system", trace_id: ids.trace, severity: "info", diagnostic_id: "C1" })
      const b = yield* makeEvent("diagnostic", { actor: "system", trace_id: ids.trace, severity: "info", diagnostic_id: "C1" })
      assert.strictEqual(a.timestamp, "2026-03-01T12:00:00.250Z")
      assert.notStrictEqual(a.event_id, b.event_id)
      const record = yield* prepare(a)
      assert.strictEqual(record.type, "diagnostic")
    }))

  it.effect("R10 systemEvent builds a valid lifecycle event, actor system by default", () =>
    Effect.gen(function*() {
      const event = yield* systemEvent({ trace_id: ids.trace, job_id: ids.job, from_state: "queued", to_state: "running" })
      assert.strictEqual(event.actor, "system")
      assert.strictEqual(event.type, "system")
      const record = yield* prepare(event)
      assert.strictEqual<string | null>(record.job_id, ids.job)
      const human = yield* systemEvent({ actor: "human", trace_id: ids.trace, job_id: ids.job, from_state: "running", to_state: "cancelled" })
      assert.strictEqual((yield* prepare(human)).actor, "human")
    }))

  it.effect("R10 eventOf fixtures are valid for every type", () =>
    Effect.forEach(EventTypes, (type) => prepare(eventOf(type)), { discard: true }))
})

describe("R14 text every backend can store", () => {
  it.effect("R14 an event holding U+0000 is refused with InvalidEvent (PostgreSQL's jsonb cannot store it)", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(makePrepare()({ ...validEvents.diagnostic, source: "before\u0000after" }))
      assert.instanceOf(error, InvalidEvent)
      assert.include(error.message, "U+0000")
    }))
})
