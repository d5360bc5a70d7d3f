/**
 * R17 every error a caller catches is importable by name from the package
 * root (`import { CapabilityDenied } from "@handshake/ai-job-model"`), as the
 * README's error table promises. The list is audited against the sources: a
 * new `Schema.TaggedError` in `src/` that the root does not export fails here.
 * The CLI's own errors never leave the `ai-jobs` process, so they are not API.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Root from "../../src/index.js"
import {
  AlreadyExists,
  AwaitTimeout,
  CapabilityDenied,
  ConsoleAssetMissing,
  CorruptRow,
  DecodeFailure,
  EscalationDenied,
  EventTooLarge,
  IllegalTransition,
  InvalidEvent,
  InvalidToken,
  JobFinished,
  JobNotRunning,
  LengthRequired,
  MalformedBody,
  MethodNotAllowed,
  MigrationFailed,
  NotFound,
  PayloadTooLarge,
  RecoveryFailed,
  RequestHeaderFieldsTooLarge,
  RunLost,
  RouteNotFound,
  RunNotActive,
  RunTaken,
  SecurityViolation,
  StorageError,
  Unauthorized,
  Unhealthy,
  UnknownCapability,
  UnknownProfile,
  UnsupportedDatabaseUrl
} from "../../src/index.js"

const srcRoot = fileURLToPath(new URL("../../src/", import.meta.url))
const readme = fs.readFileSync(fileURLToPath(new URL("../../README.md", import.meta.url)), "utf8")

/** The CLI's errors: turned into exit codes and messages inside `ai-jobs`, never seen by a library caller. */
const cliOnly = new Set(["BadInput", "OperationFailed", "CommandFailed"])

/** `[tag, file]` for every `Schema.TaggedError` class declared under `src/`. */
const declaredErrors = (dir: string): Array<readonly [string, string]> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name)
    if (entry.isDirectory()) return declaredErrors(file)
    if (!entry.name.endsWith(".ts")) return []
    const text = fs.readFileSync(file, "utf8")
    return [...text.matchAll(/class (\w+) extends Schema\.TaggedError<\1>\(\)\(\s*"(\w+)"/g)].map((match) => {
      assert.strictEqual(match[2], match[1], `${file}: the class ${match[1]} has the tag ${match[2]}`)
      return [match[1]!, path.relative(srcRoot, file)] as const
    })
  })

/** One value of each error, built with its real fields. */
const oneOfEach = [
  new DecodeFailure({ subject: "NewAiJob", issues: [{ path: "job_kind", message: "is missing" }] }),
  new IllegalTransition({ job_id: "j", from: "completed", to: "running" }),
  new NotFound({ entity: "job", id: "j" }),
  new AlreadyExists({ entity: "job", id: "j" }),
  new RunNotActive({ workflow_run_id: "r", status: "completed" }),
  new RunTaken({ job_id: "j", workflow_run_id: "r" }),
  new CorruptRow({ table: "ai_jobs", row_id: "j", column: "state", issues: [] }),
  new StorageError({ operation: "JobStore.get", cause: new Error("down") }),
  new MigrationFailed({ dialect: "sqlite", migration_id: 2, migration_name: "current_schema", statement: 1, cause: new Error("bad") }),
  new RunLost({ job_id: "j", workflow_run_id: "r", status: "stalled" }),
  new SecurityViolation({ job_id: "j", workflow_run_id: "r", violation: "prompt_injection", poisoned: true }),
  new JobNotRunning({ job_id: "j", state: "queued" }),
  new JobFinished({ job_id: "j", state: "completed", change: "addMetrics" }),
  new AwaitTimeout({ job_id: "j", state: "running", until: ["completed"], timeout: "5s" }),
  new EscalationDenied({ job_kind: "terminal_exec", protocol_id: "p", requested_profile_id: "Coder", policy_profile_id: "Analyst", excess: [] }),
  new CapabilityDenied({ profile_id: "Analyst", job_kind: "terminal_exec", missing: ["proc.exec"] }),
  new UnknownProfile({ profile_id: "Nobody", known: ["Analyst"] }),
  new UnknownCapability({ capability_id: "magic.wand" }),
  new RecoveryFailed({ cause: new Error("down") }),
  new InvalidEvent({ event_type: "system", reasons: [] }),
  new EventTooLarge({ event_id: "e", event_type: "diagnostic", size_bytes: 70_000, limit_bytes: 65_536 }),
  new UnsupportedDatabaseUrl({ url: "mysql://x", reason: "unsupported scheme" }),
  new InvalidToken({ length: 3 }),
  new ConsoleAssetMissing({ directory: "/nowhere", cause: new Error("ENOENT") }),
  new Unauthorized(),
  new PayloadTooLarge({ limit_bytes: 1024 }),
  new LengthRequired(),
  new MalformedBody({ reason: "Unexpected token" }),
  new RequestHeaderFieldsTooLarge({ limit_bytes: 16_384 }),
  new RouteNotFound({ method: "GET", path: "/nope" }),
  new MethodNotAllowed({ method: "DELETE", allowed: ["GET", "HEAD"] }),
  new Unhealthy({ status: "unavailable", database: "unreachable", schema_version: null, recovery: "running", version: "0.1.0" })
] as const

type AnyError = (typeof oneOfEach)[number]

/**
 * Handles every error by its tag. It type-checks only if each class carries its
 * literal `_tag`, and the result's error channel is `never` only if none is missed.
 */
const handleAll = (error: AnyError): Effect.Effect<string> =>
  Effect.fail(error).pipe(
    Effect.catchTags({
      DecodeFailure: (e) => Effect.succeed(e._tag),
      IllegalTransition: (e) => Effect.succeed(e._tag),
      NotFound: (e) => Effect.succeed(e._tag),
      AlreadyExists: (e) => Effect.succeed(e._tag),
      RunNotActive: (e) => Effect.succeed(e._tag),
      RunTaken: (e) => Effect.succeed(e._tag),
      CorruptRow: (e) => Effect.succeed(e._tag),
      StorageError: (e) => Effect.succeed(e._tag),
      MigrationFailed: (e) => Effect.succeed(e._tag),
      RunLost: (e) => Effect.succeed(e._tag),
      SecurityViolation: (e) => Effect.succeed(e._tag),
      JobNotRunning: (e) => Effect.succeed(e._tag),
      JobFinished: (e) => Effect.succeed(e._tag),
      AwaitTimeout: (e) => Effect.succeed(e._tag),
      EscalationDenied: (e) => Effect.succeed(e._tag),
      CapabilityDenied: (e) => Effect.succeed(e._tag),
      UnknownProfile: (e) => Effect.succeed(e._tag),
      UnknownCapability: (e) => Effect.succeed(e._tag),
      RecoveryFailed: (e) => Effect.succeed(e._tag),
      InvalidEvent: (e) => Effect.succeed(e._tag),
      EventTooLarge: (e) => Effect.succeed(e._tag),
      UnsupportedDatabaseUrl: (e) => Effect.succeed(e._tag),
      InvalidToken: (e) => Effect.succeed(e._tag),
      ConsoleAssetMissing: (e) => Effect.succeed(e._tag),
      Unauthorized: (e) => Effect.succeed(e._tag),
      PayloadTooLarge: (e) => Effect.succeed(e._tag),
      LengthRequired: (e) => Effect.succeed(e._tag),
      MalformedBody: (e) => Effect.succeed(e._tag),
      RequestHeaderFieldsTooLarge: (e) => Effect.succeed(e._tag),
      RouteNotFound: (e) => Effect.succeed(e._tag),
      MethodNotAllowed: (e) => Effect.succeed(e._tag),
      Unhealthy: (e) => Effect.succeed(e._tag)
    })
  )

describe("R17 the package root exports every error a caller catches", () => {
  it("every Schema.TaggedError in src/ (but the CLI's own) is a root export of that name, and is in the list below", () => {
    const declared = declaredErrors(srcRoot).filter(([name]) => !cliOnly.has(name))
    const exported = Root as unknown as Record<string, unknown>
    for (const [name, file] of declared) {
      assert.isFunction(exported[name], `${name} (${file}) is not exported from src/index.ts`)
    }
    assert.sameMembers(oneOfEach.map((error) => error._tag), declared.map(([name]) => name))
    for (const name of cliOnly) assert.isUndefined(exported[name], `${name} is the CLI's own`)
  })

  it.effect("Effect.catchTag catches each one by its tag, and each is an instance of the root's class", () =>
    Effect.gen(function*() {
      const exported = Root as unknown as Record<string, new(...args: ReadonlyArray<never>) => unknown>
      for (const error of oneOfEach) {
        assert.instanceOf(error, exported[error._tag]!)
        assert.strictEqual(yield* handleAll(error), error._tag)
        const caught = yield* Effect.fail(error).pipe(
          Effect.catchTag(error._tag, (e: AnyError) => Effect.succeed(e)),
          Effect.catchAll(() => Effect.succeed(null))
        )
        assert.strictEqual(caught, error, `${error._tag} is caught by its own tag`)
      }
    }))

  it("the README's error table lists each one, and the module it names re-exports the same class", () => {
    const section = readme.split("## Errors you handle")[1]?.split("\n## ")[0] ?? ""
    const rows = [...section.matchAll(/^\| `(\w+)` \| .* \| (?:—|`(\w+)`) \|$/gm)]
    assert.sameMembers(rows.map((row) => row[1]), oneOfEach.map((error) => error._tag))
    const exported = Root as unknown as Record<string, Record<string, unknown>>
    for (const [, tag, module] of rows) {
      if (module !== undefined) assert.strictEqual(exported[module]?.[tag!], exported[tag!], `${module}.${tag} is the root's ${tag}`)
    }
  })
})
