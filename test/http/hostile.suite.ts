/**
 * The HTTP API under hostile input (task h81): what an attacker, a careless
 * script or a broken client sends — bodies of the wrong type or absurd depth,
 * repeated headers and parameters, cut-off requests, many racers at once —
 * against a real server on a loopback port and a real store. Each refusal is
 * its documented status and typed body, and the database reads back exactly
 * as before. Runs unchanged on SQLite and PostgreSQL.
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpServer from "@effect/platform/HttpServer"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as net from "node:net"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { AiJob } from "../../src/domain/AiJob.js"
import { EventRecord } from "../../src/domain/EventRecord.js"
import { NodeExecution, WorkflowRun } from "../../src/domain/WorkflowRun.js"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import type { Backend } from "../support/backend.js"
import { apiServer, send, summarize, TOKEN, typedClient } from "./server.js"

/** Every job, run, node and event, in their wire form: what "the database is unchanged" compares. */
const readBack = Effect.gen(function*() {
  const store = yield* JobStore
  const jobs = (yield* store.listJobs({ limit: 1000, order: "asc" })).items
  const runs = yield* Effect.forEach(jobs, (job) => store.listRuns(job.job_id))
  const nodes = yield* Effect.forEach(runs.flat(), (run) => store.listNodes(run.id))
  const events = (yield* store.listEvents({ limit: 1000 })).items
  return {
    jobs: jobs.map((job) => Schema.encodeSync(AiJob)(job)),
    runs: runs.flat().map((run) => Schema.encodeSync(WorkflowRun)(run)),
    nodes: nodes.flat().map((node) => Schema.encodeSync(NodeExecution)(node)),
    events: events.map((event) => Schema.encodeSync(EventRecord)(event))
  }
})

const authed = HttpClientRequest.bearerToken(TOKEN)

/** The test server's port. */
const serverPort = Effect.map(HttpServer.HttpServer, (server) => (server.address as HttpServer.TcpAddress).port)

/**
 * A raw exchange on one connection: writes `text` (then ends its side when
 * `halfClose`) and reads until the server closes, or `destroy`s the socket
 * right after writing or at the first byte of the answer: a client gone.
 * For what no HTTP client sends: repeated headers, a body cut short. Given
 * pieces, it writes them 30 ms apart, so the server reads each on its own.
 */
const rawExchange = (
  text: string | ReadonlyArray<Uint8Array>,
  options: { readonly destroy?: "after-write" | "after-first-byte"; readonly halfClose?: boolean } = {}
) =>
  Effect.flatMap(serverPort, (port) =>
    Effect.async<string>((resume) => {
      const socket = net.connect(port, "127.0.0.1")
      let received = ""
      let done = false
      const finish = () => {
        if (done) return
        done = true
        resume(Effect.succeed(received))
      }
      const pieces = typeof text === "string" ? [text] : text
      const write = (index: number): void => {
        socket.write(pieces[index]!, () => {
          if (index + 1 < pieces.length) {
            setTimeout(() => write(index + 1), 30)
          } else if (options.destroy === "after-write") {
            socket.destroy()
            finish()
          } else if (options.halfClose === true) {
            socket.end()
          }
        })
      }
      socket.on("connect", () => write(0))
      socket.on("data", (chunk: Buffer) => {
        received += chunk.toString("utf8")
        if (options.destroy === "after-first-byte") {
          socket.destroy()
          finish()
        }
      })
      socket.on("error", finish)
      socket.on("close", finish)
      return Effect.sync(() => socket.destroy())
    }))

/** A request's text with `Connection: close`, so the server ends the exchange. */
const rawRequest = (head: string, headers: ReadonlyArray<readonly [string, string]>, body = "") =>
  `${head} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${headers.map(([name, value]) => `${name}: ${value}\r\n`).join("")}\r\n${body}`

/** The status code and JSON body of a raw response. */
const parseRaw = (response: string) => {
  const [head = "", ...rest] = response.split("\r\n\r\n")
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? Number.NaN)
  const text = rest.join("\r\n\r\n")
  let body: Record<string, unknown> | null = null
  try {
    body = JSON.parse(text) as Record<string, unknown>
  } catch {
    body = null
  }
  return { status, body, text }
}

const AUTH: ReadonlyArray<readonly [string, string]> = [["Authorization", `Bearer ${TOKEN}`]]

/** `method path` sent as written (no client tidies the path), with the token unless `token` is false; a POST carries `{}`. */
const exchange = (method: string, path: string, token = true) => {
  const auth = token ? AUTH : []
  return Effect.map(
    rawExchange(rawRequest(`${method} ${path}`, method === "POST" ? [...auth, ["Content-Type", "application/json"], ["Content-Length", "2"]] : auth, method === "POST" ? "{}" : "")),
    parseRaw
  )
}

/** The summary request's JSON around its protocol id's text (`p` then the bytes a test puts in). */
const [BEFORE_BYTES, AFTER_BYTES] = JSON.stringify(summarize({ protocol_id: "p@" })).split("@").map((part) => new TextEncoder().encode(part)) as [Uint8Array, Uint8Array]

/** Where the bytes begin in such a body. */
const BYTES_AT = BEFORE_BYTES.length

/** The summary request with `bytes` inside its protocol id's string. */
const withBytes = (bytes: ReadonlyArray<number>) => new Uint8Array([...BEFORE_BYTES, ...bytes, ...AFTER_BYTES])

export const runHostileApiSuite = (backend: Backend) => {
  const withApi = <A, E, R>(effect: Effect.Effect<A, E, R>, options: Parameters<typeof apiServer>[1] = {}) =>
    Effect.provide(effect, apiServer(backend.makeStore(), options) as Layer.Layer<Exclude<R, never>, unknown>)
  /** The same over a store with a raw SQL client on its database, to break a row behind its back. */
  const withApiAndSql = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.provide(effect, apiServer(backend.makeStoreWithSql()) as Layer.Layer<Exclude<R, never>, unknown>)

  describe(`HTTP API under hostile input on ${backend.name}`, () => {
    it.live("17.2 README Bodies: a body whose Content-Type is not JSON (form, multipart, bytes, text, +json) is 400 MalformedBody at once on every body route, and changes nothing", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        const before = yield* readBack
        const form = "job_kind=doc_summarize&protocol_id=hsk.http.v1&profile_id=alice&access_mode=analysis_only&safety_mode=normal"
        const bodies: ReadonlyArray<readonly [string, string]> = [
          // A form that names every field a job needs: it must not become a job.
          ["application/x-www-form-urlencoded", form],
          // What `curl -d '{"reason":"…"}'` sends: the reason must not be dropped by an action that then succeeds.
          ["application/x-www-form-urlencoded", JSON.stringify({ reason: "kept or refused" })],
          // The platform read these a second time and never answered.
          ["multipart/form-data; boundary=x", `--x\r\nContent-Disposition: form-data; name="reason"\r\n\r\nr\r\n--x--\r\n`],
          ["application/octet-stream", JSON.stringify(summarize())],
          ["application/vnd.api+json", JSON.stringify(summarize())],
          ["text/plain", JSON.stringify(summarize())],
          // Taken for JSON by a substring test (found by an outside probe).
          ["application/json-patch+json", JSON.stringify(summarize())],
          ["text/plain; x=application/json", JSON.stringify(summarize())],
          ["application/json, text/plain", JSON.stringify(summarize())],
          // A body the platform decodes as UTF-8 whatever it says.
          ["application/json; charset=latin1", JSON.stringify(summarize())]
        ]
        for (const route of ["/jobs", `/jobs/${job.job_id}/cancel`, `/jobs/${job.job_id}/pin`]) {
          for (const [contentType, body] of bodies) {
            const response = yield* send(HttpClientRequest.post(route).pipe(authed, HttpClientRequest.bodyText(body, contentType))).pipe(
              Effect.timeoutFail({ duration: "20 seconds", onTimeout: () => new Error(`POST ${route} as ${contentType} was never answered`) })
            )
            assert.deepStrictEqual([response.status, response.body?.["_tag"]], [400, "MalformedBody"], `POST ${route} as ${contentType}: ${response.text}`)
            assert.include(String(response.body?.["message"]), "send application/json")
          }
        }
        assert.deepStrictEqual(yield* readBack, before, "no job, state, pin or event from a refused body")
        // The same action as JSON still works: the check is on the type, not the route.
        const pinned = yield* send(HttpClientRequest.post(`/jobs/${job.job_id}/pin`).pipe(authed, HttpClientRequest.bodyUnsafeJson({ reason: "r" })))
        assert.strictEqual(pinned.status, 200, pinned.text)
        for (const contentType of ["Application/JSON", "application/json; charset=utf-8", "application/json;charset=\"UTF-8\""]) {
          const again = yield* send(HttpClientRequest.post(`/jobs/${job.job_id}/pin`).pipe(authed, HttpClientRequest.bodyText(JSON.stringify({ reason: "r" }), contentType)))
          assert.strictEqual(again.status, 200, `${contentType}: ${again.text}`)
        }
      })))

    // Pinned after a question (no change): RFC 9110 lets a media type's name and parameter names be any case, with
    // whitespace around `;` and an empty parameter after a `;`; application/json defines no parameter but charset is sent.
    it.live("17.2 README Bodies: application/json in any case, with a trailing ;, spaces around ; or a UTF-8 charset, is JSON on submit and actions; another parameter is a clear 400 MalformedBody, never a 500", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const accepted = [
          "application/json;",
          "APPLICATION/JSON",
          "application/json; charset=utf-8",
          "application/json ; CHARSET=UTF-8;",
          "application/json;charset=\"utf-8\""
        ]
        for (const contentType of accepted) {
          const submitted = yield* send(HttpClientRequest.post("/jobs").pipe(authed, HttpClientRequest.bodyText(JSON.stringify(summarize()), contentType)))
          assert.strictEqual(submitted.status, 201, `${contentType}: ${submitted.text}`)
          const id = String(submitted.body?.["job_id"])
          const cancelled = yield* send(HttpClientRequest.post(`/jobs/${id}/cancel`).pipe(authed, HttpClientRequest.bodyText(JSON.stringify({ reason: `as ${contentType}` }), contentType)))
          assert.strictEqual(cancelled.status, 200, `${contentType}: ${cancelled.text}`)
          const stored = yield* jobs.get(id as never)
          assert.deepStrictEqual([stored.state, stored.status_reason], ["cancelled", `as ${contentType}`])
        }
        const job = yield* jobs.submit(summarize())
        const before = yield* readBack
        for (const contentType of ["application/json; foo=bar", "application/json; charset=utf-16", "application/json;;charset=latin1"]) {
          const refused = yield* send(HttpClientRequest.post(`/jobs/${job.job_id}/cancel`).pipe(authed, HttpClientRequest.bodyText(JSON.stringify({ reason: "r" }), contentType)))
          assert.deepStrictEqual([refused.status, refused.body?.["_tag"]], [400, "MalformedBody"], `${contentType}: ${refused.text}`)
          assert.include(String(refused.body?.["message"]), `its Content-Type is ${JSON.stringify(contentType)}; send application/json`)
        }
        assert.deepStrictEqual(yield* readBack, before, "nothing changed by a refused body")
      })))

    it.live("Input rules 17.2: JSON nested thousands of levels deep is 400 DecodeFailure (not a 500 with no body) on submit and actions; nothing stored", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        const before = yield* readBack
        const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth)
        const cases: ReadonlyArray<readonly [string, string]> = [
          ["/jobs", nested(100_000)],
          // The shallowest past the bound: 129 levels.
          ["/jobs", nested(129)],
          ["/jobs", JSON.stringify(summarize()).replace(/}$/, `,"job_inputs":${nested(5_000)}}`)],
          ["/jobs", JSON.stringify(summarize()).replace(/}$/, `,"job_inputs":${'{"a":'.repeat(5_000)}1${"}".repeat(5_000)}}`)],
          [`/jobs/${job.job_id}/cancel`, `{"reason":${nested(5_000)}}`]
        ]
        for (const [route, body] of cases) {
          const response = yield* send(HttpClientRequest.post(route).pipe(authed, HttpClientRequest.bodyText(body, "application/json")))
          assert.deepStrictEqual([response.status, response.body?.["_tag"]], [400, "DecodeFailure"], `${route}: ${response.text.slice(0, 300)}`)
          assert.match(String(response.body?.["message"]), /Nested more than 128 levels deep/)
        }
        // Deeper than a job's inputs may be, but not absurd: the domain's own rule answers, as before.
        const deepInputs = yield* send(HttpClientRequest.post("/jobs").pipe(
          authed,
          HttpClientRequest.bodyText(JSON.stringify(summarize()).replace(/}$/, `,"job_inputs":${nested(100)}}`), "application/json")
        ))
        assert.deepStrictEqual([deepInputs.status, deepInputs.body?.["_tag"]], [400, "HttpApiDecodeError"])
        assert.include(deepInputs.text, "Nested more than 64 levels deep")
        // 128 levels are within the bound: the route's schema answers (a list is no job request).
        const atBound = yield* send(HttpClientRequest.post("/jobs").pipe(authed, HttpClientRequest.bodyText(nested(128), "application/json")))
        assert.deepStrictEqual([atBound.status, atBound.body?.["_tag"]], [400, "HttpApiDecodeError"], atBound.text.slice(0, 300))
        assert.deepStrictEqual(yield* readBack, before)
      })))

    // Found by an outside attacker's probe: 500,000 levels were parsed whole (a second or two, the event loop
    // blocked) before the walk refused them at level 129. The text is judged up to that bracket: whatever follows —
    // here text JSON.parse refuses — is never read, so such a body, refused as malformed before, is too deep now.
    it.live("Input rules 17.2: a body is refused as nested past 128 levels at its 129th bracket, whatever follows it; JSON bad before that bracket is MalformedBody in JSON.parse's words, as before; nothing stored", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        const before = yield* readBack
        const post = (route: string, body: string) =>
          send(HttpClientRequest.post(route).pipe(authed, HttpClientRequest.bodyText(body, "application/json")))
        const tooDeep: ReadonlyArray<readonly [string, string]> = [
          // The probe's body: never closed, so JSON.parse of the whole refuses it.
          ["/jobs", "[".repeat(500_000)],
          ["/jobs", `${"[".repeat(129)}not JSON`],
          ["/jobs", `{"job_kind":"doc_summarize","job_inputs":${"{\"a\":".repeat(129)}}`],
          [`/jobs/${job.job_id}/cancel`, `{"reason":${"[".repeat(200)}1,,]`]
        ]
        for (const [route, body] of tooDeep) {
          assert.throws(() => JSON.parse(body), SyntaxError, undefined, "the rest is not JSON")
          const response = yield* post(route, body)
          assert.deepStrictEqual([response.status, response.body?.["_tag"]], [400, "DecodeFailure"], `${route}: ${response.text.slice(0, 300)}`)
          assert.deepStrictEqual(response.body?.["issues"], [{ path: "", message: "Nested more than 128 levels deep" }])
        }
        // Bad before the 129th bracket, or at it: the parse's own refusal, word for word.
        const badBefore = ["x" + "[".repeat(200), "[1" + "[".repeat(200), `{${"[".repeat(200)}`, `[${"[".repeat(127)}"a" [[`]
        for (const body of badBefore) {
          const response = yield* post("/jobs", body)
          assert.deepStrictEqual([response.status, response.body?.["_tag"]], [400, "MalformedBody"], `${body.slice(0, 20)}: ${response.text.slice(0, 300)}`)
          assert.throws(() => JSON.parse(body), SyntaxError)
          try {
            JSON.parse(body)
          } catch (error) {
            assert.strictEqual(response.body?.["reason"], (error as SyntaxError).message)
          }
        }
        // Brackets in strings are text, not nesting (an escaped quote does not end one): the route's schema answers.
        const inText = yield* post("/jobs", `{"job_kind":"doc_summarize\\"${"[".repeat(200)}"}`)
        assert.deepStrictEqual([inText.status, inText.body?.["_tag"]], [400, "HttpApiDecodeError"], inText.text.slice(0, 300))
        assert.deepStrictEqual(yield* readBack, before)
      })))

    it.live("Input rules 17.2: what JSON.parse would change silently — a key given twice in one object, a number a double cannot hold — is 400 DecodeFailure naming it; nothing stored, on submit and actions", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        const before = yield* readBack
        const submit = JSON.stringify(summarize({ job_inputs: { prompt: "first", nested: [{ a: 1 }] } }))
        // [route, body, the path the answer names]
        const cases: ReadonlyArray<readonly [string, string, string]> = [
          // The same top-level key twice: the second job_kind would have won.
          ["/jobs", submit.replace(/^\{/, "{\"job_kind\":\"terminal_exec\","), "job_kind"],
          // Inside a job's inputs, spelt the same after JSON's escapes ("\u0070rompt" is "prompt").
          ["/jobs", submit.replace("\"prompt\":\"first\"", "\"prompt\":\"first\",\"\\u0070rompt\":\"second\""), "job_inputs.prompt"],
          // In an object inside an array inside the inputs.
          ["/jobs", submit.replace("{\"a\":1}", "{\"a\":1,\"a\":2}"), "job_inputs.nested.0.a"],
          // An action's reason: the one that would be stored is not the one first written.
          [`/jobs/${job.job_id}/cancel`, "{\"reason\":\"operator asked\",\"reason\":\"\"}", "reason"]
        ]
        for (const [route, body, path] of cases) {
          JSON.parse(body) // each body is valid JSON: only the key given twice is refused
          const response = yield* send(HttpClientRequest.post(route).pipe(authed, HttpClientRequest.bodyText(body, "application/json")))
          assert.deepStrictEqual([response.status, response.body?.["_tag"]], [400, "DecodeFailure"], `${route} ${body}: ${response.text.slice(0, 300)}`)
          assert.deepStrictEqual(response.body?.["issues"], [{
            path,
            message: `Key ${JSON.stringify(path.split(".").at(-1))} is given twice in one object (only the last would be kept); give it once`
          }])
        }
        assert.deepStrictEqual(yield* readBack, before, "no job, state or event from a body with a key given twice")
        // A number a double cannot hold would be stored as another number: refused, naming it.
        for (const [number, read] of [["12345678901234567890", "12345678901234567000"], ["1e-400", "0"], ["1e400", "Infinity"]]) {
          const body = submit.replace("\"a\":1", `"a":${number}`)
          const response = yield* send(HttpClientRequest.post("/jobs").pipe(authed, HttpClientRequest.bodyText(body, "application/json")))
          assert.deepStrictEqual([response.status, response.body?.["_tag"]], [400, "DecodeFailure"], `${body}: ${response.text.slice(0, 300)}`)
          assert.deepStrictEqual(response.body?.["issues"], [{
            path: "job_inputs.nested.0.a",
            message: `The number ${number} cannot be kept exactly (it would be read as ${read}); send it as a string (a JSON number here is a double: about 17 significant digits, up to ±1.8e308)`
          }])
        }
        assert.deepStrictEqual(yield* readBack, before, "no job from a body with a number a double cannot hold")
        // Keys alike in different objects, or differing only in case, are not the same key.
        // Numbers written as other serializers write doubles are the doubles they write.
        const distinct = JSON.stringify(summarize({ job_inputs: { a: { a: 1 }, A: [{ a: 2 }, { a: 3 }] } }))
          .replace("\"a\":3", "\"a\":0.10000000000000001,\"b\":1.0E2,\"c\":9007199254740992")
        const accepted = yield* send(HttpClientRequest.post("/jobs").pipe(authed, HttpClientRequest.bodyText(distinct, "application/json")))
        assert.strictEqual(accepted.status, 201, accepted.text)
        assert.deepStrictEqual(accepted.body?.["job_inputs"], { a: { a: 1 }, A: [{ a: 2 }, { a: 0.1, b: 100, c: 9007199254740992 }] })
      })))

    it.live("Input rules 17.2: a body whose bytes are not UTF-8 is 400 MalformedBody (the platform would have stored U+FFFD in their place); U+FFFD sent as such is kept; nothing stored", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        const before = yield* readBack
        const encoder = new TextEncoder()
        const invalid: ReadonlyArray<readonly [string, ReadonlyArray<number>]> = [
          ["a lone 0xFF", [0xff]],
          ["a cut two-byte character", [0xc3, 0x28]],
          ["an overlong slash", [0xc0, 0xaf]],
          ["a surrogate encoded as UTF-8", [0xed, 0xa0, 0x80]],
          ["a cut three-byte character", [0xe2, 0x82]],
          // Three bytes, as U+FFFD is: its replacement leaves the length as it was.
          ["a four-byte character cut after its third byte", [0xf0, 0x9f, 0x98]],
          ["two of them", [0xf0, 0x9f, 0x98, 0xf0, 0x9f, 0x98]],
          ["a five-byte form", [0xf8, 0x88, 0x80, 0x80, 0x80]]
        ]
        for (const [what, bytes] of invalid) {
          const response = yield* send(HttpClientRequest.post("/jobs").pipe(authed, HttpClientRequest.bodyUint8Array(withBytes(bytes), "application/json")))
          assert.deepStrictEqual([response.status, response.body?.["_tag"]], [400, "MalformedBody"], `${what}: ${response.text.slice(0, 300)}`)
          assert.include(String(response.body?.["message"]), "not valid UTF-8")
        }
        // An action's body too.
        const cancel = yield* send(HttpClientRequest.post(`/jobs/${job.job_id}/cancel`).pipe(
          authed,
          HttpClientRequest.bodyUint8Array(new Uint8Array([...encoder.encode("{\"reason\":\"x"), 0xff, ...encoder.encode("\"}")]), "application/json")
        ))
        assert.deepStrictEqual([cancel.status, cancel.body?.["_tag"]], [400, "MalformedBody"], cancel.text)
        assert.deepStrictEqual(yield* readBack, before, "nothing stored from a body that is not UTF-8")
        // U+FFFD and a four-byte character, each sent as UTF-8, are text like any other.
        const kept = yield* send(HttpClientRequest.post("/jobs").pipe(
          authed,
          HttpClientRequest.bodyUint8Array(withBytes([0xef, 0xbf, 0xbd, 0xf0, 0x9f, 0x98, 0x80]), "application/json")
        ))
        assert.strictEqual(kept.status, 201, kept.text)
        assert.strictEqual(kept.body?.["protocol_id"], "p\ufffd\u{1F600}")
      })))

    it.live("17.2 README Bodies: a request whose headers reach the server's cap (Node keeps the first 1,000 fields) is 400 MalformedBody: a Content-Length past the cap framed the body unseen, and every body check was skipped; nothing stored", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        const before = yield* readBack
        const padded = (route: string, body: string, pads: number) =>
          rawExchange(rawRequest(`POST ${route}`, [
            ["Authorization", `Bearer ${TOKEN}`],
            ...Array.from({ length: pads }, (_, i) => ["x", String(i % 10)] as const),
            ["Content-Type", "application/json"],
            ["Content-Length", String(Buffer.byteLength(body))]
          ], body)).pipe(Effect.map(parseRaw))
        // Found by an outside probe: a key given twice was taken (the last), a 5 MiB body stored, a deep one a 500.
        const bodies: ReadonlyArray<readonly [string, string]> = [
          [`/jobs/${job.job_id}/pin`, `{"reason":"first","reason":"second"}`],
          ["/jobs", JSON.stringify(summarize({ job_inputs: { text: "x".repeat(2 * 1024 * 1024) } }))],
          ["/jobs", JSON.stringify(summarize())]
        ]
        for (const [route, body] of bodies) {
          const response = yield* padded(route, body, 2000)
          assert.deepStrictEqual([response.status, response.body?.["_tag"]], [400, "MalformedBody"], `${route}: ${response.text.slice(0, 300)}`)
        }
        // Exactly at the cap (Host, Connection, Authorization, 995 more, Content-Type, Content-Length: 1,000 fields) is refused too.
        const atCap = yield* padded("/jobs", JSON.stringify(summarize()), 995)
        assert.deepStrictEqual([atCap.status, atCap.body?.["_tag"]], [400, "MalformedBody"], atCap.text.slice(0, 300))
        assert.deepStrictEqual(yield* readBack, before)
        // Below the cap, the same headers are read and the body checked as usual: 999 fields are.
        const belowCap = yield* padded("/jobs", JSON.stringify(summarize()), 994)
        assert.strictEqual(belowCap.status, 201, belowCap.text)
        const duplicate = yield* padded(`/jobs/${job.job_id}/pin`, `{"reason":"first","reason":"second"}`, 100)
        assert.deepStrictEqual([duplicate.status, duplicate.body?.["_tag"]], [400, "DecodeFailure"], duplicate.text)
        const accepted = yield* padded("/jobs", JSON.stringify(summarize()), 100)
        assert.strictEqual(accepted.status, 201, accepted.text)
      })))

    it.live("Input rules 17.2: bytes are checked as UTF-8 as they arrive, across the pieces a body comes in: a character split between two reads is kept, a cut one is refused; nothing stored from the refused", () =>
      withApi(Effect.gen(function*() {
        yield* Jobs
        const before = yield* readBack
        const encoder = new TextEncoder()
        /** POST /jobs whose body has `bytes` in its protocol id, sent in two pieces cut `at` bytes into `bytes`. */
        const inTwoPieces = (bytes: ReadonlyArray<number>, at: number) => {
          const body = withBytes(bytes)
          const request = encoder.encode(rawRequest("POST /jobs", [
            ["Authorization", `Bearer ${TOKEN}`],
            ["Content-Type", "application/json"],
            ["Content-Length", String(body.length)]
          ]))
          const cut = BYTES_AT + at
          return rawExchange([new Uint8Array([...request, ...body.slice(0, cut)]), body.slice(cut)]).pipe(Effect.map(parseRaw))
        }
        // 😀 (F0 9F 98 80) cut after each of its first three bytes: one character, read in two pieces.
        for (const at of [1, 2, 3]) {
          const kept = yield* inTwoPieces([0xf0, 0x9f, 0x98, 0x80], at)
          assert.strictEqual(kept.status, 201, kept.text)
          assert.strictEqual(kept.body?.["protocol_id"], "p\u{1F600}")
        }
        const after = yield* readBack
        // The same character missing its last byte, cut between the pieces or not.
        for (const at of [1, 3]) {
          const refused = yield* inTwoPieces([0xf0, 0x9f, 0x98], at)
          assert.deepStrictEqual([refused.status, refused.body?.["_tag"]], [400, "MalformedBody"], refused.text)
        }
        assert.deepStrictEqual(yield* readBack, after, "nothing stored from a body that is not UTF-8")
        assert.notDeepEqual(after, before)
      })))

    it.live("Input rules 17.2: behind a server of your own (plain http.createServer), a body that is not UTF-8 is still refused by its length (all but a four-byte character cut after its third byte)", () =>
      withApi(Effect.gen(function*() {
        yield* Jobs
        const before = yield* readBack
        const response = yield* send(HttpClientRequest.post("/jobs").pipe(
          authed,
          HttpClientRequest.bodyUint8Array(withBytes([0xff]), "application/json")
        ))
        assert.deepStrictEqual([response.status, response.body?.["_tag"]], [400, "MalformedBody"], response.text)
        assert.deepStrictEqual(yield* readBack, before)
      }), { plainServer: true }))

    it.live("R17 17.3 a URL of ~16 kB is 431 RequestHeaderFieldsTooLarge with the API's JSON error body, from the server users get (JobsApi.createServer); nothing changes", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        yield* jobs.submit(summarize())
        const before = yield* readBack
        const answer = yield* rawExchange(`GET /jobs?state=${"q".repeat(16_500)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`)
        const [head = "", body = ""] = answer.split("\r\n\r\n")
        assert.match(head, /^HTTP\/1\.1 431 /, answer.slice(0, 300))
        assert.match(head, /content-type: application\/json/i)
        assert.strictEqual((JSON.parse(body) as Record<string, unknown>)["_tag"], "RequestHeaderFieldsTooLarge")
        assert.deepStrictEqual(yield* readBack, before)
      })))

    it.live("17.2 bad input gets a clear error, not the input back: a refused 500 kB value is quoted cut short (400, the field named, under 10 kB), and changes nothing", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        const before = yield* readBack
        const huge = "x".repeat(500_000)
        // [route, body, the answer's tag, a path the answer names]
        const cases: ReadonlyArray<readonly [string, unknown, string, string]> = [
          // Refused by the domain (Jobs.submit): DecodeFailure.
          ["/jobs", summarize({ protocol_id: huge }), "DecodeFailure", "protocol_id"],
          // Refused by the API's own shapes: the platform's HttpApiDecodeError.
          ["/jobs", { ...summarize(), job_inputs: { text: `${huge}\u0000` } }, "HttpApiDecodeError", "text"],
          ["/jobs", { ...summarize(), job_inputs: Array.from({ length: 20_000 }, () => "\u0000") }, "HttpApiDecodeError", "job_inputs"],
          [`/jobs/${job.job_id}/cancel`, { reason: `${huge}\u0000` }, "HttpApiDecodeError", "reason"],
          [`/jobs/${job.job_id}/cancel`, { reason: 5, pad: huge }, "HttpApiDecodeError", "reason"]
        ]
        const quoting: Array<string> = []
        for (const [route, body, tag, field] of cases) {
          const response = yield* send(HttpClientRequest.post(route).pipe(authed, HttpClientRequest.bodyUnsafeJson(body)))
          const described = `${route} ${JSON.stringify(body).slice(0, 80)}: ${response.status} ${response.text.length} bytes`
          assert.deepStrictEqual([response.status, response.body?.["_tag"]], [400, tag], described)
          assert.isBelow(response.text.length, 10_000, described)
          assert.include(response.text, field, described)
          // An answer that quotes the value quotes it cut short, saying how long it was; one whose
          // issues name the problem without the value (an optional field's "Expected undefined,
          // actual …" beside them is left out) quotes none of it.
          if (response.text.includes("x".repeat(100))) {
            assert.include(response.text, "characters in all", described)
            quoting.push(route.endsWith("/cancel") ? "cancel" : "submit")
          }
        }
        assert.isAtLeast(quoting.length, 1, "the cut is exercised")
        assert.deepStrictEqual(yield* readBack, before)
      })), { timeout: 60_000 })

    it.live("17.2 a 400 names what is wrong once: no \"Expected null/undefined\" for the enclosing optional field beside the specific issue (as DecodeFailure)", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        const before = yield* readBack
        const cases: ReadonlyArray<readonly [string, unknown, string]> = [
          ["/jobs", { ...summarize(), priority: "high" }, "priority"],
          ["/jobs", { ...summarize(), max_attempts: "3" }, "max_attempts"],
          ["/jobs", { ...summarize(), job_inputs: { text: "a\u0000b" } }, "text"],
          [`/jobs/${job.job_id}/cancel`, { reason: 5 }, "reason"],
          [`/jobs/${job.job_id}/cancel`, { reason: "a\u0000b" }, "reason"],
          [`/jobs/${job.job_id}/cancel`, { actor: "robot" }, "actor"]
        ]
        for (const [route, body, field] of cases) {
          const response = yield* send(HttpClientRequest.post(route).pipe(authed, HttpClientRequest.bodyUnsafeJson(body)))
          const described = `${route} ${JSON.stringify(body).slice(0, 120)}: ${response.text}`
          assert.deepStrictEqual([response.status, response.body?.["_tag"]], [400, "HttpApiDecodeError"], described)
          const issues = (response.body?.["issues"] ?? []) as ReadonlyArray<{ readonly path: ReadonlyArray<string>; readonly message: string }>
          assert.isAbove(issues.length, 0, described)
          assert.isTrue(issues.every((issue) => issue.path.includes(field)), described)
          assert.notMatch(response.text, /Expected (undefined|null), actual/, described)
        }
        assert.deepStrictEqual(yield* readBack, before)
      })), { timeout: 60_000 })

    it.live("17.2 R5 a body key the route does not name is refused at every level (POST /jobs and every operator action): 400 HttpApiDecodeError naming its path; nothing stored", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        const before = yield* readBack
        // [route, body, the path of the key it does not name]
        const cases: ReadonlyArray<readonly [string, unknown, ReadonlyArray<string | number>]> = [
          ["/jobs", { ...summarize(), max_attempt: 5 }, ["max_attempt"]],
          ["/jobs", summarize({ backoff: { initail: "3 seconds" } as never }), ["backoff", "initail"]],
          ["/jobs", summarize({ entity_refs: [{ entity_id: "e", entity_kind: "doc", extra: "x" } as never] }), ["entity_refs", 0, "extra"]],
          ["/jobs", summarize({ planned_operations: [{ op_type: "read", target: { entity_id: "e", entity_kind: "doc", extra: 1 } } as never] }), [
            "planned_operations",
            0,
            "target",
            "extra"
          ]],
          [`/jobs/${job.job_id}/cancel`, { reason: "typo", reasn: "x" }, ["reasn"]],
          [`/jobs/${job.job_id}/resume`, { reasons: "x" }, ["reasons"]],
          [`/jobs/${job.job_id}/fail`, { reason: "x", error: "y" }, ["error"]],
          [`/jobs/${job.job_id}/pin`, { extra: true }, ["extra"]]
        ]
        for (const [route, body, path] of cases) {
          const response = yield* send(HttpClientRequest.post(route).pipe(authed, HttpClientRequest.bodyUnsafeJson(body)))
          const described = `${route} ${JSON.stringify(body)}: ${response.status} ${response.text.slice(0, 400)}`
          assert.deepStrictEqual([response.status, response.body?.["_tag"]], [400, "HttpApiDecodeError"], described)
          const issues = (response.body?.["issues"] ?? []) as ReadonlyArray<{ readonly path: ReadonlyArray<unknown>; readonly message: string }>
          const issue = issues.find((each) => JSON.stringify(each.path) === JSON.stringify(path))
          assert.isDefined(issue, described)
          assert.match(issue!.message, /^is unexpected/, described)
          assert.include(String(response.body?.["message"]), JSON.stringify(path.at(-1)), described)
          assert.include(String(response.body?.["message"]), "is unexpected", described)
        }
        // Every problem of a body is reported, not only the first.
        const several = yield* send(HttpClientRequest.post("/jobs").pipe(
          authed,
          HttpClientRequest.bodyUnsafeJson({ ...summarize({ backoff: { initail: "3 seconds" } as never }), max_attempt: 5, priorty: 1 })
        ))
        assert.strictEqual(several.status, 400, several.text)
        const paths = ((several.body?.["issues"] ?? []) as ReadonlyArray<{ readonly path: ReadonlyArray<unknown> }>).map((each) => JSON.stringify(each.path))
        for (const path of [["max_attempt"], ["priorty"], ["backoff", "initail"]]) assert.include(paths, JSON.stringify(path), several.text.slice(0, 600))
        // Its message is those issues, one line each, `path: problem`, not the schema tree down to them.
        const issueLines = ((several.body?.["issues"] ?? []) as ReadonlyArray<{ readonly path: ReadonlyArray<string | number>; readonly message: string }>)
          .map((issue) => `${issue.path.map((key) => `[${JSON.stringify(key)}]`).join("")}: ${issue.message}`)
        assert.deepStrictEqual(String(several.body?.["message"]).split("\n"), issueLines)
        assert.include(issueLines, `["backoff"]["initail"]: is unexpected, expected: "initial" | "factor" | "max" | "jitter"`)
        assert.deepStrictEqual(yield* readBack, before, "no job, run or event stored; the job unchanged")
        // The same bodies without the unknown key are accepted: the refusal is the key's.
        const accepted = yield* send(HttpClientRequest.post("/jobs").pipe(authed, HttpClientRequest.bodyUnsafeJson(summarize({ max_attempts: 5, backoff: { initial: "3 seconds" } }))))
        assert.strictEqual(accepted.status, 201, accepted.text)
        assert.strictEqual(accepted.body?.["max_attempts"], 5)
      })))

    it.live("17.2 README every issue (up to 50), message the same issues one per line: 60 unknown keys give exactly 50 issues, and the message keeps whole lines within 4,000 characters and ends saying how many it leaves out; nothing stored", () =>
      withApi(Effect.gen(function*() {
        yield* Jobs
        const before = yield* readBack
        const body = { ...summarize(), ...Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`extra_${i}`, 1])) }
        const response = yield* send(HttpClientRequest.post("/jobs").pipe(authed, HttpClientRequest.bodyUnsafeJson(body)))
        assert.deepStrictEqual([response.status, response.body?.["_tag"]], [400, "HttpApiDecodeError"], response.text.slice(0, 300))
        const issues = response.body?.["issues"] as ReadonlyArray<{ readonly path: ReadonlyArray<string>; readonly message: string }>
        assert.strictEqual(issues.length, 50)
        const message = String(response.body?.["message"])
        assert.isAtMost(message.length, 4_000)
        // Found by an outside audit: the message was cut as one text at 4,000 characters, its "(and 10 more)" line with it.
        const lines = message.split("\n")
        const shown = lines.slice(0, -1)
        assert.isAbove(shown.length, 0, message)
        assert.deepStrictEqual(shown, issues.slice(0, shown.length).map((issue) => `${issue.path.map((key) => `[${JSON.stringify(key)}]`).join("")}: ${issue.message}`))
        assert.strictEqual(lines.at(-1), `(and ${60 - shown.length} more)`)
        assert.deepStrictEqual(yield* readBack, before)
      })))

    it.live("17.2 README every route 500 StorageError or CorruptRow: a job row that does not decode is a 500 CorruptRow naming its column, not another status", () =>
      withApiAndSql(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        const sql = yield* SqlClient.SqlClient
        yield* sql`UPDATE ai_jobs SET job_inputs = '{"__proto__": 1}' WHERE id = ${job.job_id}`
        const response = yield* send(HttpClientRequest.get(`/jobs/${job.job_id}`).pipe(authed))
        assert.deepStrictEqual([response.status, response.body?.["_tag"], response.body?.["column"]], [500, "CorruptRow", "job_inputs"], response.text)
      })))

    it.live("17.2 R5 a list's query key the route does not name is refused (GET /jobs, GET /events): 400 HttpApiDecodeError naming it, never the whole listing", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const kept = yield* jobs.submit(summarize())
        const cancelled = yield* jobs.submit(summarize())
        yield* jobs.cancel(cancelled.job_id)
        for (const query of ["/jobs?stat=failed", "/jobs?state=failed&jobkind=doc_edit", `/events?jobid=${kept.job_id}`, "/events?types=system"]) {
          const response = yield* send(HttpClientRequest.get(query).pipe(authed))
          const described = `${query}: ${response.status} ${response.text.slice(0, 400)}`
          assert.deepStrictEqual([response.status, response.body?.["_tag"]], [400, "HttpApiDecodeError"], described)
          assert.include(String(response.body?.["message"]), "is unexpected", described)
        }
        // The names the routes do name still filter.
        const failed = yield* send(HttpClientRequest.get("/jobs?state=cancelled").pipe(authed))
        assert.strictEqual(failed.status, 200, failed.text)
        assert.deepStrictEqual((failed.body?.["items"] as ReadonlyArray<{ readonly job_id: string }>).map((job) => job.job_id), [cancelled.job_id])
        const events = yield* send(HttpClientRequest.get(`/events?job_id=${kept.job_id}`).pipe(authed))
        assert.strictEqual(events.status, 200, events.text)
        assert.isTrue((events.body?.["items"] as ReadonlyArray<{ readonly job_id: string }>).every((event) => event.job_id === kept.job_id))
      })))

    it.live("17.2 R5 a route with a body takes no query: POST /jobs?dry_run=1 and an action's ?x=1 are 400 DecodeFailure naming the key, nothing queued or moved (it was ignored: a real job queued)", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        const before = yield* readBack
        for (const route of ["/jobs?dry_run=1", `/jobs/${job.job_id}/cancel?force=true`, `/jobs/${job.job_id}/pin?reason=x`]) {
          const body = route.startsWith("/jobs?") ? summarize() : { reason: "r" }
          const response = yield* send(HttpClientRequest.post(route).pipe(authed, HttpClientRequest.bodyUnsafeJson(body)))
          assert.deepStrictEqual([response.status, response.body?.["_tag"]], [400, "DecodeFailure"], `${route}: ${response.text}`)
          assert.include(String(response.body?.["message"]), "this route takes no query parameters")
        }
        assert.deepStrictEqual(yield* readBack, before, "nothing queued, moved or recorded")
        // A bare `?` names nothing.
        const bare = yield* send(HttpClientRequest.post("/jobs?").pipe(authed, HttpClientRequest.bodyUnsafeJson(summarize())))
        assert.strictEqual(bare.status, 201, bare.text)
      })))

    it.live("R17 17.2 an empty item in a list query (?state=queued, ?job_kind=,doc_edit ?type=system,,diagnostic) is 400 HttpApiDecodeError naming the parameter, as the CLI's --state queued, is bad input; never dropped", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        yield* jobs.submit(summarize())
        const before = yield* readBack
        const refused: ReadonlyArray<readonly [string, string]> = [
          ["/jobs?state=queued,", "state"],
          ["/jobs?state=queued%2C", "state"],
          ["/jobs?state=,queued", "state"],
          ["/jobs?state=queued,,failed", "state"],
          ["/jobs?state=", "state"],
          ["/jobs?job_kind=doc_edit,", "job_kind"],
          ["/jobs?job_kind=,term_exec", "job_kind"],
          ["/events?type=system,", "type"],
          ["/events?type=system,,diagnostic", "type"],
          // Spaces alone are an empty item too.
          ["/jobs?state=queued,%20", "state"],
          ["/jobs?state=%20%20", "state"],
          ["/events?type=system,%09,diagnostic", "type"]
        ]
        for (const [query, parameter] of refused) {
          const response = yield* send(HttpClientRequest.get(query).pipe(authed))
          const described = `${query}: ${response.status} ${response.text.slice(0, 400)}`
          assert.deepStrictEqual([response.status, response.body?.["_tag"]], [400, "HttpApiDecodeError"], described)
          const issues = response.body?.["issues"] as ReadonlyArray<{ readonly path: ReadonlyArray<string | number> }>
          assert.isAbove(issues.length, 0, described)
          assert.isTrue(issues.every((issue) => issue.path[0] === parameter), described)
          assert.include(String(response.body?.["message"]), JSON.stringify(parameter), described)
        }
        assert.deepStrictEqual(yield* readBack, before)
        // Without the stray comma the same filters are read.
        for (const query of ["/jobs?state=queued&job_kind=doc_summarize,term_exec", "/events?type=system,diagnostic"]) {
          const response = yield* send(HttpClientRequest.get(query).pipe(authed))
          assert.strictEqual(response.status, 200, `${query}: ${response.text.slice(0, 400)}`)
        }
      })))

    it.live("R17 17.2 spaces around a list query's items are read as the CLI reads --state \"queued, failed\": the same jobs and events as without them", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const queued = yield* jobs.submit(summarize())
        const failed = yield* jobs.submit(summarize({ job_kind: "doc_edit" }))
        yield* jobs.fail(failed.job_id, "broken")
        yield* jobs.submit(summarize())
        yield* jobs.cancel((yield* jobs.submit(summarize())).job_id)
        const ids = (response: { readonly body: Record<string, unknown> | null | undefined }) =>
          (response.body?.["items"] as ReadonlyArray<{ readonly job_id: string; readonly event_id?: string }>).map((item) => item.event_id ?? item.job_id)
        const pairs: ReadonlyArray<readonly [string, string]> = [
          ["/jobs?state=queued,failed", "/jobs?state=queued,%20failed"],
          ["/jobs?state=queued,failed", "/jobs?state=%20queued%20,%09failed%20"],
          ["/jobs?job_kind=doc_edit,doc_summarize&state=failed", "/jobs?job_kind=doc_edit,%20doc_summarize&state=%20failed"],
          ["/jobs?job_kind=terminal_exec,doc_edit", "/jobs?job_kind=term_exec%20,%20doc_edit"],
          ["/events?type=system,capability_action", "/events?type=system,%20capability_action"]
        ]
        for (const [plain, spaced] of pairs) {
          const [a, b] = [yield* send(HttpClientRequest.get(plain).pipe(authed)), yield* send(HttpClientRequest.get(spaced).pipe(authed))]
          assert.deepStrictEqual([a.status, b.status], [200, 200], `${spaced}: ${b.text.slice(0, 400)}`)
          assert.deepStrictEqual(ids(b), ids(a), spaced)
        }
        const listed = yield* send(HttpClientRequest.get("/jobs?state=queued,%20failed&order=asc").pipe(authed))
        assert.includeMembers(ids(listed), [queued.job_id, failed.job_id])
        assert.strictEqual(ids(listed).length, 3, "the two queued and the failed one, not the cancelled")
      })))

    it.live("17.2 R5 README Input rules: a __proto__ query key is refused like any key the list does not name (400 HttpApiDecodeError at __proto__), never dropped", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        yield* jobs.submit(summarize())
        for (const query of ["/jobs?__proto__=x", "/jobs?state=queued&__proto__=x&__proto__=y", "/jobs?%5F%5Fproto%5F%5F=x", "/events?__proto__", "/events?limit=1&__proto__=1"]) {
          const response = yield* send(HttpClientRequest.get(query).pipe(authed))
          const described = `${query}: ${response.status} ${response.text.slice(0, 400)}`
          assert.deepStrictEqual([response.status, response.body?.["_tag"]], [400, "HttpApiDecodeError"], described)
          const issues = response.body?.["issues"] as ReadonlyArray<{ readonly path: ReadonlyArray<string>; readonly message: string }>
          assert.deepStrictEqual(issues.map((issue) => issue.path), [["__proto__"]], described)
          assert.match(issues[0]?.message ?? "", /^is unexpected, expected: /, described)
        }
      })))

    it.live("17.2 auth: a request with two Authorization headers is 401 Unauthorized whichever token comes first, and changes nothing", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        const before = yield* readBack
        const right = `Bearer ${TOKEN}`
        const wrong = "Bearer not-the-token-0123456789"
        for (const [first, second] of [[right, wrong], [wrong, right], [right, right]] as const) {
          for (const head of ["GET /jobs", `POST /jobs/${job.job_id}/cancel`, "GET /openapi.json"]) {
            const response = parseRaw(yield* rawExchange(rawRequest(head, [
              ["Authorization", first],
              ["authorization", second],
              ["Content-Type", "application/json"],
              ["Content-Length", "2"]
            ], "{}")))
            assert.deepStrictEqual([response.status, response.body?.["_tag"]], [401, "Unauthorized"], `${head} with ${first} then ${second}`)
          }
        }
        assert.deepStrictEqual(yield* readBack, before)
        const single = parseRaw(yield* rawExchange(rawRequest("GET /jobs", [["Authorization", right]])))
        assert.strictEqual(single.status, 200, "one Authorization header with the token still passes")
      })))

    it.live("17.2 README ?limit= is a whole number 1..1000 in decimal digits: 1e3, 0x10, ' 5', 5.0, -1, empty and a repeated limit are 400 HttpApiDecodeError", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        yield* jobs.submit(summarize())
        for (const route of ["/jobs", "/events"]) {
          for (const query of ["limit=1e3", "limit=0x10", "limit=%205", "limit=5.0", "limit=-1", "limit=", "limit=&limit=5", "limit=5&limit=5", "limit=Infinity"]) {
            const response = yield* send(HttpClientRequest.get(`${route}?${query}`).pipe(authed))
            assert.deepStrictEqual([response.status, response.body?.["_tag"]], [400, "HttpApiDecodeError"], `${route}?${query}: ${response.text.slice(0, 200)}`)
          }
          const plain = yield* send(HttpClientRequest.get(`${route}?limit=1000`).pipe(authed))
          assert.strictEqual(plain.status, 200, plain.text)
        }
      })))

    it.live("Input rules 17.2: ids with path tricks are 400, an upper-case id names the same job; __proto__, NUL and lone-surrogate keys are refused; nothing stored", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        const before = yield* readBack
        for (const id of ["..%2fjobs", `${job.job_id}%00`, `%7B${job.job_id}%7D`, job.job_id.replace(/-/g, ""), "00000000-0000-0000-0000-000000000000"]) {
          const shown = yield* send(HttpClientRequest.get(`/jobs/${id}`).pipe(authed))
          assert.deepStrictEqual([shown.status, shown.body?.["_tag"]], [400, "HttpApiDecodeError"], `GET /jobs/${id}`)
          const cancelled = yield* send(HttpClientRequest.post(`/jobs/${id}/cancel`).pipe(authed, HttpClientRequest.bodyUnsafeJson({})))
          assert.deepStrictEqual([cancelled.status, cancelled.body?.["_tag"]], [400, "HttpApiDecodeError"], `POST /jobs/${id}/cancel`)
        }
        const upper = yield* send(HttpClientRequest.get(`/jobs/${job.job_id.toUpperCase()}`).pipe(authed))
        assert.strictEqual(upper.status, 200)
        assert.strictEqual((upper.body?.["job"] as { job_id?: string } | undefined)?.job_id, job.job_id)

        const withInputs = (inputs: string) => JSON.stringify(summarize()).replace(/}$/, `,"job_inputs":${inputs}}`)
        for (const body of [
          withInputs(`{"__proto__":{"polluted":true}}`),
          withInputs(`{"a\\u0000":1}`),
          withInputs(`{"\\ud800":1}`),
          withInputs(`{"a":"\\udc00"}`),
          withInputs(`{"a":["x\\u0000"]}`),
          withInputs(`{"n":1e400}`),
          JSON.stringify(summarize({ status_reason: "nul\u0000" }))
        ]) {
          const response = yield* send(HttpClientRequest.post("/jobs").pipe(authed, HttpClientRequest.bodyText(body, "application/json")))
          assert.strictEqual(response.status, 400, `${body}: ${response.text.slice(0, 200)}`)
          assert.oneOf(response.body?.["_tag"], ["HttpApiDecodeError", "DecodeFailure"])
        }
        assert.deepStrictEqual(yield* readBack, before)
        assert.isUndefined(({} as Record<string, unknown>)["polluted"], "no prototype was touched")
      })))

    it.live("17.2 README: a path the API does not have is 404 RouteNotFound; a method its route does not take is 405 MethodNotAllowed with Allow; nothing changes", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        const before = yield* readBack
        const notAllowed: ReadonlyArray<readonly [string, string, string]> = [
          ["DELETE", "/jobs", "GET, HEAD, POST"],
          ["OPTIONS", "/jobs", "GET, HEAD, POST"],
          ["PUT", `/jobs/${job.job_id}`, "GET, HEAD"],
          ["DELETE", `/jobs/${job.job_id}`, "GET, HEAD"],
          ["PATCH", `/jobs/${job.job_id}`, "GET, HEAD"],
          ["GET", `/jobs/${job.job_id}/cancel`, "POST"],
          ["DELETE", `/jobs/${job.job_id}/pin`, "POST"],
          ["POST", "/events", "GET, HEAD"],
          ["POST", "/health", "GET, HEAD"]
        ]
        for (const [method, path, allow] of notAllowed) {
          const request = HttpClientRequest.make(method as "POST")(path).pipe(authed)
          const response = yield* send(method === "GET" ? request : request.pipe(HttpClientRequest.bodyUnsafeJson({})))
          assert.deepStrictEqual([response.status, response.body?.["_tag"], response.headers["allow"]], [405, "MethodNotAllowed", allow], `${method} ${path}`)
          assert.deepStrictEqual(response.body?.["allowed"], allow.split(", "))
          assert.isString(response.body?.["message"])
        }
        for (const path of ["/nope", "/jobs/x/y/z", `/jobs/${job.job_id}/delete`, "/console/secret.js"]) {
          const response = yield* send(HttpClientRequest.get(path).pipe(authed))
          assert.deepStrictEqual([response.status, response.body?.["_tag"], response.body?.["path"]], [404, "RouteNotFound", path], path)
        }
        assert.deepStrictEqual(yield* readBack, before)
      })))

    it.live("R17 17.2 a 404 quotes at most 200 characters of an unknown path, then an ellipsis and its length: a 10 kB path is not echoed back twice", () =>
      withApi(Effect.gen(function*() {
        const long = `/nope/${"x".repeat(10_000)}`
        const response = yield* send(HttpClientRequest.get(long).pipe(authed))
        const described = `${response.status} ${response.text.length} bytes: ${response.text.slice(0, 300)}`
        assert.deepStrictEqual([response.status, response.body?.["_tag"]], [404, "RouteNotFound"], described)
        assert.isBelow(response.text.length, 1_000, described)
        assert.strictEqual(response.body?.["path"], `${long.slice(0, 200)}… (${long.length} characters in all)`, described)
        assert.include(String(response.body?.["message"]), `${long.slice(0, 200)}…`, described)
        // A path of 200 characters is quoted whole.
        const fits = `/nope/${"y".repeat(194)}`
        const shown = yield* send(HttpClientRequest.get(fits).pipe(authed))
        assert.deepStrictEqual([shown.status, shown.body?.["path"]], [404, fits])
      })))

    it.live("17.2 README: a path the router cannot read is never a 405 refusing the very method it allows: an over-long or undecodable id is 400 HttpApiDecodeError at job_id; a dot segment or backslash is 404 RouteNotFound, the path as sent; nothing changes", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        const before = yield* readBack

        // The router reads no parameter over 100 characters and no escape that decodes to no text; the id is malformed all the same.
        const long = "a".repeat(101)
        for (const [method, path] of [
          ["GET", `/jobs/${long}`],
          ["POST", `/jobs/${long}/cancel`],
          ["GET", `/jobs/${job.job_id}${"0".repeat(80)}`],
          ["GET", "/jobs/%ff"],
          ["POST", "/jobs/%zz/retry"],
          ["HEAD", `/jobs/${long}`]
        ] as const) {
          const response = yield* exchange(method, path)
          if (method === "HEAD") {
            assert.strictEqual(response.status, 400, `${method} ${path}: ${response.text.slice(0, 200)}`)
            continue
          }
          assert.deepStrictEqual([response.status, response.body?.["_tag"]], [400, "HttpApiDecodeError"], `${method} ${path}: ${response.text.slice(0, 200)}`)
          const issues = response.body?.["issues"] as ReadonlyArray<{ readonly path: ReadonlyArray<string> }>
          assert.deepStrictEqual(issues.map((issue) => issue.path), [["job_id"]], `${method} ${path}`)
        }

        // No route has these paths as sent: the router does not resolve `..`, `%2e%2e` or a backslash.
        for (const [method, path] of [
          ["GET", "/console/../health"],
          ["GET", "/console/%2e%2e/health"],
          ["GET", "/console/./app.js"],
          ["POST", "/x/../jobs"],
          ["GET", "/console/..\\..\\package.json"]
        ] as const) {
          const response = yield* exchange(method, path)
          assert.deepStrictEqual([response.status, response.body?.["_tag"], response.body?.["path"]], [404, "RouteNotFound", path], `${method} ${path}: ${response.text.slice(0, 200)}`)
        }

        assert.deepStrictEqual(yield* readBack, before)
      })))

    it.live("17.2 README: only a route's own spelling is routed (found by an outside attacker's probe): other case, a doubled or trailing slash, `;` and escaped letters are 404 RouteNotFound named as sent, with or without the token, and nothing is done", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        const id = job.job_id
        const before = yield* readBack
        const lookalikes: ReadonlyArray<readonly [string, string]> = [
          ["POST", `/JOBS/${id}/PIN`],
          ["POST", `/jobs/${id}/Pin`],
          ["POST", `//jobs//${id}//pin`],
          ["POST", `/jobs//${id}/pin`],
          ["POST", `/jobs/${id}/pin;ignored`],
          ["POST", `/jobs/${id};x/pin`],
          ["POST", `/jobs/${id}/pin/`],
          ["POST", `/jobs/${id}/%63ancel`],
          ["POST", `/jobs/${id}/%43ANCEL`],
          ["POST", "/Jobs"],
          ["GET", "/jobs;state=failed"],
          ["GET", `/jobs/${id}/runs;limit=1`],
          ["GET", `/jobs/${id}/`],
          ["GET", "/jobs/"],
          ["GET", "/Events"],
          ["GET", "/HEALTH"],
          ["HEAD", "/HEALTH"],
          ["GET", "/health/"],
          ["GET", "/%6aobs"],
          ["GET", "/%68ealth"],
          ["GET", "/openapi.JSON"],
          ["GET", "/Console/"],
          ["GET", "//console/"],
          // Was a 405 naming the route it resembled.
          ["DELETE", "/JOBS"],
          ["GET", `/Jobs/${id}/Cancel`],
          ["DELETE", "/%6aobs"],
          ["DELETE", "//jobs/"],
          ["PUT", "/jobs;x=1"]
        ]
        for (const token of [true, false]) {
          for (const [method, path] of lookalikes) {
            const response = yield* exchange(method, path, token)
            const described = `${method} ${path}${token ? "" : " without the token"}: ${response.status} ${response.text.slice(0, 200)}`
            if (method === "HEAD") {
              assert.strictEqual(response.status, 404, described)
              continue
            }
            assert.deepStrictEqual([response.status, response.body?.["_tag"], response.body?.["method"], response.body?.["path"]], [404, "RouteNotFound", method, path], described)
          }
        }
        assert.deepStrictEqual(yield* readBack, before, "nothing pinned, cancelled or submitted")

        // The routes as spelt still answer: an id in upper case is still that job's, the console is served.
        for (const [method, path, status] of [
          ["GET", `/jobs/${id.toUpperCase()}`, 200],
          ["GET", "/jobs?state=failed", 200],
          ["GET", "/health", 200],
          ["GET", "/openapi.json", 200],
          ["GET", "/console/", 200],
          ["GET", "/console", 302],
          ["GET", "/console/app.js", 200],
          ["DELETE", "/jobs", 405],
          ["POST", `/jobs/${id}/pin`, 200]
        ] as const) {
          const response = yield* exchange(method, path)
          assert.strictEqual(response.status, status, `${method} ${path}: ${response.text.slice(0, 200)}`)
        }
        assert.isTrue((yield* jobs.get(id)).is_pinned)
      })))

    it.live("R6 17.2 the same request sent 20 times at once: cancel gives one 200 and 19 409 IllegalTransition with one event; pin 20 200s and one event; one job id submitted, one 201 and 19 409 AlreadyExists", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const api = yield* typedClient()
        const store = yield* JobStore
        const humanEvents = (jobId: AiJob["job_id"]) =>
          Effect.map(store.listEvents({ job_id: jobId, limit: 1000 }), (page) => page.items.filter((event) => event.actor === "human"))

        const queued = yield* jobs.submit(summarize())
        const cancels = yield* Effect.all(
          Array.from({ length: 20 }, (_, i) => Effect.either(api.jobs.cancel({ path: { job_id: queued.job_id }, payload: { reason: `operator ${i}` } }))),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(cancels.filter((outcome) => outcome._tag === "Right").length, 1)
        assert.deepStrictEqual(cancels.flatMap((outcome) => outcome._tag === "Left" ? [outcome.left._tag] : []), Array(19).fill("IllegalTransition"))
        assert.strictEqual((yield* jobs.get(queued.job_id)).state, "cancelled")
        assert.strictEqual((yield* humanEvents(queued.job_id)).length, 1, "one cancel, one event")

        const other = yield* jobs.submit(summarize())
        const pins = yield* Effect.all(
          Array.from({ length: 20 }, (_, i) => api.jobs.pin({ path: { job_id: other.job_id }, payload: { reason: `evidence ${i}` } })),
          { concurrency: "unbounded" }
        )
        assert.isTrue(pins.every((job) => job.is_pinned))
        assert.strictEqual((yield* humanEvents(other.job_id)).length, 1, "pinning a pinned job changes nothing")

        // One job id submitted 20 times at once: one job, the others the typed conflict (never a 500).
        const jobId = "0190a9d2-7a1e-7c4b-8d2e-0000000c0ffe" as AiJob["job_id"]
        const submits = yield* Effect.all(
          Array.from({ length: 20 }, () => Effect.either(api.jobs.submit({ payload: summarize({ job_id: jobId }) }))),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(submits.filter((outcome) => outcome._tag === "Right").length, 1)
        assert.deepStrictEqual(submits.flatMap((outcome) => outcome._tag === "Left" ? [outcome.left._tag] : []), Array(19).fill("AlreadyExists"))
        const queuedEvents = (yield* store.listEvents({ job_id: jobId, limit: 1000 })).items.filter((event) => event.type === "system")
        assert.strictEqual(queuedEvents.length, 1, "one job, one queued event")
      })))

    it.live("17.2 a request cut off mid-body and clients gone before or during the response leave the database consistent; the server keeps serving", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const store = yield* JobStore
        for (let i = 0; i < 30; i++) yield* jobs.submit(summarize({ status_reason: "x".repeat(500) }))
        const victim = yield* jobs.submit(summarize())
        const before = yield* readBack

        const body = JSON.stringify(summarize())
        const headers: ReadonlyArray<readonly [string, string]> = [
          ["Authorization", `Bearer ${TOKEN}`],
          ["Content-Type", "application/json"],
          ["Content-Length", String(body.length)]
        ]
        for (let i = 0; i < 5; i++) {
          yield* rawExchange(rawRequest("POST /jobs", headers, body.slice(0, 40)), { destroy: "after-write" })
        }
        // Half-closed mid-body: the server sees the end of the stream before the declared length.
        const halfClosed = parseRaw(yield* rawExchange(rawRequest("POST /jobs", headers, body.slice(0, 40)), { halfClose: true }))
        assert.isTrue(Number.isNaN(halfClosed.status) || halfClosed.status === 400, String(halfClosed.status))
        yield* rawExchange(rawRequest("GET /jobs?limit=1000", [["Authorization", `Bearer ${TOKEN}`]]), { destroy: "after-first-byte" })
        assert.deepStrictEqual(yield* readBack, before, "no job from a body that never arrived")

        // A client that sends a whole action and leaves at once: it happened exactly once, or not at all.
        yield* rawExchange(rawRequest(`POST /jobs/${victim.job_id}/cancel`, [
          ["Authorization", `Bearer ${TOKEN}`],
          ["Content-Type", "application/json"],
          ["Content-Length", "2"]
        ], "{}"), { destroy: "after-write" })
        const again = yield* send(HttpClientRequest.post(`/jobs/${victim.job_id}/cancel`).pipe(authed, HttpClientRequest.bodyUnsafeJson({})))
        assert.oneOf(again.status, [200, 409], again.text)
        assert.strictEqual((yield* jobs.get(victim.job_id)).state, "cancelled")
        const cancelEvents = (yield* store.listEvents({ job_id: victim.job_id, limit: 1000 })).items.filter((event) => event.actor === "human")
        assert.strictEqual(cancelEvents.length, 1, "one cancel, one event")

        const health = yield* send(HttpClientRequest.get("/health"))
        assert.strictEqual(health.status, 200)
      })))
  })
}
