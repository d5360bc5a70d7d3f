/**
 * Scenarios of the reference system's own tests (Nuntissura/Handshake,
 * src/backend/handshake_core) that our suites did not check yet, ported one
 * by one against the public API and run unchanged on each store. Each test
 * names the reference test it ports; the walk over all of them, with where
 * each one is already covered, is in the report of branch h80.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import {
  Capabilities,
  FlightRecorder,
  type FlightEventInput,
  Jobs,
  JobStore,
  type NodeEndStatus,
  Recovery,
  WakeUp
} from "../../src/index.js"
import type { Backend } from "../support/backend.js"

const NOW = Date.parse("2026-03-01T00:00:00.000Z")

const summarize = {
  job_kind: "doc_summarize",
  protocol_id: "hsk.reference-port.v1",
  profile_id: "tester",
  access_mode: "analysis_only",
  safety_mode: "normal"
} as const

/** The application's layers over a store and a raw SQL client on its database, as a user composes them. */
const appOver = (backend: Backend, recorder: FlightRecorder.FlightRecorderConfig = {}) =>
  Jobs.layer().pipe(
    Layer.provideMerge(Recovery.layerNoStartupRecovery),
    Layer.provideMerge(WakeUp.layerPollOnly),
    Layer.provideMerge(FlightRecorder.layer(recorder)),
    Layer.provideMerge(Capabilities.layerDefault),
    Layer.provideMerge(backend.makeStoreWithSql())
  )

/** A running job and its run, claimed at the TestClock's now. */
const claimedJob = Effect.gen(function*() {
  const jobs = yield* Jobs.Jobs
  const job = yield* jobs.submit(summarize)
  const claim = yield* jobs.claimNext()
  assert.isNotNull(claim)
  return { job, run: claim!.run }
})

/** What the database itself holds, as text: every event body and every job's reason and error. */
const storedText = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const events = yield* sql<{ readonly body: unknown }>`SELECT body FROM flight_recorder_events`
  const jobs = yield* sql<{ readonly status_reason: unknown; readonly error_message: unknown }>`
    SELECT status_reason, error_message FROM ai_jobs`
  const runs = yield* sql<{ readonly error_message: unknown }>`SELECT error_message FROM workflow_runs`
  return [
    ...events.map((row) => typeof row.body === "string" ? row.body : JSON.stringify(row.body)),
    ...jobs.map((row) => `${String(row.status_reason)} ${String(row.error_message)}`),
    ...runs.map((row) => String(row.error_message))
  ].join("\n")
})

/** One secret of each kind the reference's Secret Redactor (bundles/redactor.rs) removes. */
const secrets = {
  // The reference's own test key (redaction_removes_api_keys).
  apiKey: "sk-abc123def456ghi789",
  awsKeyId: "AKIAIOSFODNN7EXAMPLE",
  awsSecret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  githubPat: `github_pat_${"A".repeat(22)}_${"b".repeat(59)}`,
  slack: "xoxb-1234567890-abcdefghij",
  google: `AIza${"C".repeat(35)}`,
  pemBody: "MIIEowIBAAKCAQEAreferenceport",
  password: "hunter2-reference"
} as const

const secretText = [
  `OPENAI_API_KEY=${secrets.apiKey}`,
  `aws_access_key_id=${secrets.awsKeyId} aws_secret_access_key=${secrets.awsSecret}`,
  `GITHUB_TOKEN ${secrets.githubPat}`,
  `slack ${secrets.slack} maps ${secrets.google}`,
  `-----BEGIN RSA PRIVATE KEY-----\n${secrets.pemBody}\n-----END RSA PRIVATE KEY-----`,
  `DB_PASSWORD=${secrets.password}`
].join(" ")

/** The scenarios ported from the reference's tests, for one store. */
export const runReferencePorts = (backend: Backend): void => {
  describe(`reference ports on ${backend.name}`, () => {
    // Ports storage/tests.rs workflow_node_execution_sets_finished_at_for_terminal_statuses:
    // the reference stamps finished_at for completed_with_issues and poisoned as
    // for every terminal status (its CASE lists completed, completed_with_issues,
    // failed, cancelled, stalled, poisoned). Ours checked the time only for
    // completed, failed and cancelled.
    it.effect("R8 a node ended in each terminal state the reference lists has finished_at at the Clock's now, as written and as read back", () =>
      Effect.gen(function*() {
        const store = yield* JobStore.JobStore
        yield* TestClock.setTime(NOW)
        const { run } = yield* claimedJob
        const terminal: ReadonlyArray<NodeEndStatus> = ["completed", "completed_with_issues", "failed", "cancelled", "stalled", "poisoned"]
        const ended = []
        for (const [i, status] of terminal.entries()) {
          const node = yield* store.startNode({ workflow_run_id: run.id, node_id: `node-${status}`, node_type: "test", input_payload: { input: true } })
          assert.isNull(node.finished_at)
          yield* TestClock.setTime(NOW + 1000 * (i + 1))
          const finished = yield* store.finishNode(node.id, { status, error_message: "terminal" })
          assert.strictEqual(finished.status, status)
          assert.isNotNull(finished.finished_at, `${status} sets finished_at`)
          assert.strictEqual(DateTime.toEpochMillis(finished.finished_at!), NOW + 1000 * (i + 1), `${status} finished at the Clock's now`)
          ended.push(finished)
        }
        const listed = yield* store.listNodes(run.id)
        assert.deepStrictEqual(
          listed.map((node) => [node.status, node.finished_at === null ? null : DateTime.toEpochMillis(node.finished_at)]),
          ended.map((node) => [node.status, DateTime.toEpochMillis(node.finished_at!)])
        )
      }).pipe(Effect.provide(appOver(backend))))

    // The other half of the reference's CASE (storage/postgres.rs
    // update_workflow_node_execution: `ELSE finished_at`): a node awaiting
    // validation or a user is paused, not finished, so its finished_at stays
    // as it was; the status that ends it later stamps it.
    it.effect("R8 a node awaiting validation or a user keeps finished_at unset until a later status ends it", () =>
      Effect.gen(function*() {
        const store = yield* JobStore.JobStore
        yield* TestClock.setTime(NOW)
        const { run } = yield* claimedJob
        for (const [i, waiting] of (["awaiting_validation", "awaiting_user"] as const).entries()) {
          const node = yield* store.startNode({ workflow_run_id: run.id, node_id: `node-${waiting}`, node_type: "test" })
          yield* TestClock.setTime(NOW + 1000 * (2 * i + 1))
          const paused = yield* store.finishNode(node.id, { status: waiting })
          assert.deepStrictEqual([paused.status, paused.finished_at], [waiting, null])
          yield* TestClock.setTime(NOW + 1000 * (2 * i + 2))
          const ended = yield* store.finishNode(node.id, { status: "completed", output_payload: { ok: true } })
          assert.strictEqual(ended.status, "completed")
          assert.strictEqual(DateTime.toEpochMillis(ended.finished_at!), NOW + 1000 * (2 * i + 2))
        }
        const listed = yield* store.listNodes(run.id)
        assert.deepStrictEqual(listed.map((node) => [node.status, node.finished_at === null ? null : DateTime.toEpochMillis(node.finished_at)]), [
          ["completed", NOW + 2000],
          ["completed", NOW + 4000]
        ])
      }).pipe(Effect.provide(appOver(backend))))

    // Ports flight_recorder/duckdb.rs test_retention_purges_old_events: a recorder
    // whose retention window is zero purges every event recorded before now.
    // Ours purges events strictly older than the cutoff, so one stamped at the
    // very instant of the purge stays until the clock moves on.
    it.effect("R13 a zero retention window purges every event older than now, and keeps one stamped this instant", () =>
      Effect.gen(function*() {
        const recorder = yield* FlightRecorder.FlightRecorder
        yield* TestClock.setTime(NOW)
        const { job } = yield* claimedJob
        const recorded = (yield* recorder.list({ limit: 1000 })).items.length
        assert.isAbove(recorded, 0)
        assert.strictEqual(yield* recorder.enforceRetention(), 0, "nothing is older than now yet")
        yield* TestClock.adjust(Duration.millis(1))
        assert.strictEqual(yield* recorder.enforceRetention(), recorded)
        assert.lengthOf((yield* recorder.list({ limit: 1000 })).items, 0)
        assert.strictEqual((yield* (yield* Jobs.Jobs).get(job.job_id)).state, "running", "retention removes events, never jobs")
      }).pipe(Effect.provide(appOver(backend, { retention: Duration.zero }))))

    // The other end of the same window: "keep everything". Subtracting an
    // infinite (or longer than a date can hold) window from now threw inside
    // enforceRetention, a defect instead of a purge of nothing.
    for (const [name, retention] of [["infinite", Duration.infinity], ["longer than a date can hold", Duration.days(1e9)]] as const) {
      it.effect(`R13 a retention window that is ${name} keeps every event: enforceRetention purges 0`, () =>
        Effect.gen(function*() {
          const recorder = yield* FlightRecorder.FlightRecorder
          yield* TestClock.setTime(NOW)
          yield* claimedJob
          const recorded = (yield* recorder.list({ limit: 1000 })).items.length
          yield* TestClock.adjust(Duration.days(400 * 365))
          assert.strictEqual(yield* recorder.enforceRetention(), 0)
          assert.lengthOf((yield* recorder.list({ limit: 1000 })).items, recorded)
        }).pipe(Effect.provide(appOver(backend, { retention }))))
    }

    // Ports bundles/redactor.rs redaction_removes_api_keys, over the kinds of
    // secret that redactor removes: the Secret Redactor runs before anything is
    // stored (spec 11.5), so none of them reaches a row, whether it comes in a
    // recorded event or as caller text on a job (a failure's error message).
    it.effect("R14 the reference's secret kinds never reach the database: not in a recorded event, not in a failed job's error", () =>
      Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const recorder = yield* FlightRecorder.FlightRecorder
        yield* TestClock.setTime(NOW)
        const { job } = yield* claimedJob
        const command: FlightEventInput = {
          type: "terminal_command",
          event_id: "0195b7a0-0000-7000-8000-000000000001",
          timestamp: new Date(NOW).toISOString(),
          actor: "human",
          session_id: "term-1",
          command: `deploy ${secretText}`,
          job_id: job.job_id
        }
        const event = yield* recorder.record(command)
        const failed = yield* jobs.fail(job.job_id, `deploy failed: ${secretText}`)
        const stored = yield* storedText
        for (const [kind, secret] of Object.entries(secrets)) {
          assert.notInclude(stored, secret, `${kind} stored`)
          assert.notInclude(JSON.stringify(event), secret, `${kind} in the recorded event`)
          assert.notInclude(failed.error_message ?? "", secret, `${kind} in the job's error`)
        }
        // What is left says what was there.
        assert.include(failed.error_message ?? "", "OPENAI_API_KEY=[REDACTED]")
        assert.include(failed.error_message ?? "", "DB_PASSWORD=[REDACTED]")
      }).pipe(Effect.provide(appOver(backend))))
  })
}
