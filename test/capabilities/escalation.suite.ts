/**
 * R15 as a security boundary, one row per way a job could reach more than the
 * policy gives it: asking for a wider profile, an unknown profile, a policy
 * naming unknown ids, scoped ids, the governance-pack protocol under each
 * profile, and rows that never went through `submit` (written with raw SQL as
 * the reference writes them, or with `JobStore.createJob`). Each row states
 * the outcome, the `capability_action` events written (one per capability
 * decided, `deny fs.write`: the reference's four fields, R12, so the profile
 * decided under is the job's or the refusal's, not the event's), and that no
 * refused job ever runs.
 * Run unchanged against each store.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import * as Capabilities from "../../src/Capabilities.js"
import type { EventRecord } from "../../src/domain/EventRecord.js"
import type { JobId, TraceId } from "../../src/domain/Ids.js"
import type { JobKind } from "../../src/domain/JobKind.js"
import type { JobState } from "../../src/domain/JobState.js"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { untilDone } from "../jobs/jobs.suite.js"
import { servicesUnder } from "../jobs/services.js"
import type { ReferenceRow } from "./referenceRows.js"

/** A way to get a fresh store, empty or holding rows the reference wrote. */
export interface CapabilityBackend {
  readonly name: string
  readonly fresh: () => Layer.Layer<JobStore, unknown>
  readonly withReferenceRows: (rows: ReadonlyArray<ReferenceRow>) => Layer.Layer<JobStore, unknown>
}

const GOVERNANCE = Capabilities.GOVERNANCE_PACK_EXPORT_PROTOCOL_ID
const { defaultConfig } = Capabilities

/** An application's own policy: narrower profiles with scoped grants, and a kind that needs a scoped id. */
const scopedPolicy: Capabilities.CapabilityConfig = {
  ...defaultConfig,
  profiles: {
    ...defaultConfig.profiles,
    LogReader: ["fs.read:logs", "doc.summarize"],
    ArtifactWriter: ["fs.write:artifacts", "doc.summarize"],
    Reader: ["fs.read"]
  },
  kinds: { ...defaultConfig.kinds, spec_router: { profile: "Analyst", requires: ["doc.summarize", "fs.read:logs"] } }
}

const decisions = (outcome: "allow" | "deny", ...ids: ReadonlyArray<string>) => ids.map((id) => `${outcome} ${id}`)
const allow = (...ids: ReadonlyArray<string>) => decisions("allow", ...ids)
const deny = (...ids: ReadonlyArray<string>) => decisions("deny", ...ids)

/** What Analyst grants beyond Coder, and Coder beyond Analyst (the reference's profiles). */
const ANALYST_ONLY = ["export.debug_bundle", "fr.read", "diagnostics.read", "jobs.read", "export.include_payloads"]
const CODER_ONLY = ["fs.write", "proc.exec", "terminal.exec"]

interface SubmitRow {
  readonly name: string
  readonly policy?: Capabilities.CapabilityConfig
  readonly request: { readonly job_kind: JobKind; readonly protocol_id?: string; readonly capability_profile_id?: string }
  /** `queued <profile>`, or the refusal's tag. */
  readonly outcome: string
  readonly decisions: ReadonlyArray<string>
}

const submitRows: ReadonlyArray<SubmitRow> = [
  {
    name: "doc_summarize asking for Coder",
    request: { job_kind: "doc_summarize", capability_profile_id: "Coder" },
    outcome: "EscalationDenied",
    decisions: deny(...CODER_ONLY)
  },
  {
    name: "doc_summarize asking for Operator",
    request: { job_kind: "doc_summarize", capability_profile_id: "Operator" },
    outcome: "EscalationDenied",
    decisions: deny("fs.write", "export.governance_pack")
  },
  {
    name: "terminal_exec asking for Analyst (not narrower than Coder)",
    request: { job_kind: "terminal_exec", capability_profile_id: "Analyst" },
    outcome: "EscalationDenied",
    decisions: deny(...ANALYST_ONLY)
  },
  {
    name: "terminal_exec asking for Operator",
    request: { job_kind: "terminal_exec", capability_profile_id: "Operator" },
    outcome: "EscalationDenied",
    decisions: deny("export.governance_pack")
  },
  {
    name: "doc_edit asking for Analyst",
    request: { job_kind: "doc_edit", capability_profile_id: "Analyst" },
    outcome: "EscalationDenied",
    decisions: deny(...ANALYST_ONLY)
  },
  {
    name: "debug_bundle_export asking for Coder",
    request: { job_kind: "debug_bundle_export", capability_profile_id: "Coder" },
    outcome: "EscalationDenied",
    decisions: deny(...CODER_ONLY)
  },
  {
    name: "a plain workflow_run asking for Operator",
    request: { job_kind: "workflow_run", capability_profile_id: "Operator" },
    outcome: "EscalationDenied",
    decisions: deny("fs.write", "export.governance_pack")
  },
  {
    name: "governance-pack workflow_run asking for Analyst",
    request: { job_kind: "workflow_run", protocol_id: GOVERNANCE, capability_profile_id: "Analyst" },
    outcome: "EscalationDenied",
    decisions: deny("net.http", "doc.summarize", ...ANALYST_ONLY)
  },
  {
    name: "governance-pack workflow_run asking for Coder",
    request: { job_kind: "workflow_run", protocol_id: GOVERNANCE, capability_profile_id: "Coder" },
    outcome: "EscalationDenied",
    decisions: deny("proc.exec", "net.http", "doc.summarize", "terminal.exec")
  },
  {
    name: "governance-pack workflow_run asking for Operator",
    request: { job_kind: "workflow_run", protocol_id: GOVERNANCE, capability_profile_id: "Operator" },
    outcome: "queued Operator",
    decisions: allow("fs.read", "fs.write", "export.governance_pack")
  },
  {
    name: "governance-pack workflow_run asking for nothing (the override decides)",
    request: { job_kind: "workflow_run", protocol_id: GOVERNANCE },
    outcome: "queued Operator",
    decisions: allow("fs.read", "fs.write", "export.governance_pack")
  },
  {
    name: "the governance-pack protocol on another kind (no override)",
    request: { job_kind: "doc_summarize", protocol_id: GOVERNANCE },
    outcome: "queued Analyst",
    decisions: allow("doc.summarize")
  },
  {
    name: "terminal_exec asking for nothing (the policy gives Coder)",
    request: { job_kind: "terminal_exec" },
    outcome: "queued Coder",
    decisions: allow("terminal.exec")
  },
  {
    name: "doc_summarize asking for Analyst (its own profile)",
    request: { job_kind: "doc_summarize", capability_profile_id: "Analyst" },
    outcome: "queued Analyst",
    decisions: allow("doc.summarize")
  },
  {
    name: "an unknown profile",
    request: { job_kind: "doc_summarize", capability_profile_id: "Root" },
    outcome: "UnknownProfile",
    decisions: deny("doc.summarize")
  },
  {
    name: "a known profile in the wrong case",
    request: { job_kind: "terminal_exec", capability_profile_id: "coder" },
    outcome: "UnknownProfile",
    decisions: deny("terminal.exec")
  },
  {
    name: "a narrower profile with a scoped grant (fs.read:logs under Analyst's fs.read)",
    policy: scopedPolicy,
    request: { job_kind: "doc_summarize", capability_profile_id: "LogReader" },
    outcome: "queued LogReader",
    decisions: allow("doc.summarize")
  },
  {
    name: "a scoped grant on an axis the policy profile lacks (fs.write:artifacts)",
    policy: scopedPolicy,
    request: { job_kind: "doc_summarize", capability_profile_id: "ArtifactWriter" },
    outcome: "EscalationDenied",
    decisions: deny("fs.write:artifacts")
  },
  {
    name: "a narrower profile that cannot do the job",
    policy: scopedPolicy,
    request: { job_kind: "doc_summarize", capability_profile_id: "Reader" },
    outcome: "CapabilityDenied",
    decisions: deny("doc.summarize")
  },
  {
    name: "a kind requiring a scoped id, granted by the axis",
    policy: scopedPolicy,
    request: { job_kind: "spec_router" },
    outcome: "queued Analyst",
    decisions: allow("doc.summarize", "fs.read:logs")
  },
  {
    name: "a kind requiring a scoped id, granted exactly",
    policy: scopedPolicy,
    request: { job_kind: "spec_router", capability_profile_id: "LogReader" },
    outcome: "queued LogReader",
    decisions: allow("doc.summarize", "fs.read:logs")
  }
]

interface PolicyRow {
  readonly name: string
  readonly policy: Capabilities.CapabilityConfig
  readonly outcome: "UnknownCapability" | "UnknownProfile"
  readonly named: string
}

/** Policies an application might supply that name what the registry does not know: refused when built. */
const policyRows: ReadonlyArray<PolicyRow> = [
  {
    name: "a profile granting an unknown id",
    policy: { ...defaultConfig, profiles: { ...defaultConfig.profiles, Wizard: ["magic.wand"] } },
    outcome: "UnknownCapability",
    named: "magic.wand"
  },
  {
    name: "a requirement scoped under an unknown axis",
    policy: { ...defaultConfig, kinds: { ...defaultConfig.kinds, doc_ingest: { profile: "Analyst", requires: ["fs.reads:logs"] } } },
    outcome: "UnknownCapability",
    named: "fs.reads:logs"
  },
  {
    name: "a scope on a full id (only axes take scopes)",
    policy: { ...defaultConfig, kinds: { ...defaultConfig.kinds, doc_ingest: { profile: "Analyst", requires: ["doc.summarize:pdf"] } } },
    outcome: "UnknownCapability",
    named: "doc.summarize:pdf"
  },
  {
    name: "a protocol override placing jobs under an unknown profile",
    policy: { ...defaultConfig, protocols: [{ job_kind: "workflow_run", protocol_id: "x.v1", profile: "Ghost", requires: [] }] },
    outcome: "UnknownProfile",
    named: "Ghost"
  }
]

/** How a stored row is put to work. */
type Act = "claimNext" | "start" | "resume" | "rework" | "worker"

interface StoredRow {
  readonly name: string
  /** Written with raw SQL as the reference does, or through `JobStore.createJob` (canonical kinds only). */
  readonly via: "reference SQL" | "createJob"
  readonly row: Omit<ReferenceRow, "id" | "trace_id" | "created_at">
  /** An admitted queued job behind it, which claimNext and the worker must move on to. */
  readonly behind?: true
  readonly act: Act
  /** The job's state afterwards (and, failed, the refusal recorded on it), and what the act answered. */
  readonly state: JobState
  readonly refusal?: Capabilities.Refusal["_tag"]
  readonly answer: string
  readonly decisions: ReadonlyArray<string>
  /** The `actor_id` of its capability decisions: its profile id; `default` when not given. */
  readonly actor?: string
}

const queued = (job_kind: string, capability_profile_id: string, protocol_id = "hsk.legacy.v1") =>
  ({ job_kind, status: "queued", protocol_id, capability_profile_id })

const storedRows: ReadonlyArray<StoredRow> = [
  {
    name: "a queued terminal_exec under Analyst",
    via: "reference SQL",
    row: queued("terminal_exec", "Analyst"),
    act: "claimNext",
    state: "failed",
    refusal: "EscalationDenied",
    answer: "nothing to claim",
    decisions: deny(...ANALYST_ONLY)
  },
  {
    name: "a queued term_exec (legacy spelling) under Analyst",
    via: "reference SQL",
    row: queued("term_exec", "Analyst"),
    act: "claimNext",
    state: "failed",
    refusal: "EscalationDenied",
    answer: "nothing to claim",
    decisions: deny(...ANALYST_ONLY)
  },
  {
    name: "a queued governance_pack_export (migrated to the governance protocol) under Analyst",
    via: "reference SQL",
    row: queued("governance_pack_export", "Analyst"),
    act: "claimNext",
    state: "failed",
    refusal: "EscalationDenied",
    answer: "nothing to claim",
    decisions: deny("net.http", "doc.summarize", ...ANALYST_ONLY)
  },
  {
    name: "a queued governance_pack_export under Operator",
    via: "reference SQL",
    row: queued("governance_pack_export", "Operator"),
    act: "claimNext",
    state: "running",
    answer: "claimed it",
    decisions: allow("fs.read", "fs.write", "export.governance_pack")
  },
  {
    name: "a queued governance-pack workflow_run under Coder",
    via: "reference SQL",
    row: queued("workflow_run", "Coder", GOVERNANCE),
    act: "claimNext",
    state: "failed",
    refusal: "EscalationDenied",
    answer: "nothing to claim",
    decisions: deny("proc.exec", "net.http", "doc.summarize", "terminal.exec")
  },
  {
    name: "a queued doc_summarize under a profile the registry does not know",
    via: "reference SQL",
    row: queued("doc_summarize", "cap1"),
    act: "claimNext",
    state: "failed",
    refusal: "UnknownProfile",
    answer: "nothing to claim",
    decisions: deny("doc.summarize")
  },
  {
    name: "a queued doc_summarize under a capability profile of only whitespace",
    via: "reference SQL",
    row: queued("doc_summarize", " \t "),
    act: "claimNext",
    state: "failed",
    refusal: "UnknownProfile",
    answer: "nothing to claim",
    decisions: deny("doc.summarize")
  },
  {
    name: "a queued doc_summarize whose submitter's profile_id is only whitespace (decided, actor_id unknown)",
    via: "reference SQL",
    row: { ...queued("doc_summarize", "Analyst"), profile_id: "\u3000 " },
    act: "claimNext",
    state: "running",
    answer: "claimed it",
    decisions: allow("doc.summarize"),
    actor: "unknown"
  },
  {
    name: "a queued doc_summarize under Analyst (admitted)",
    via: "reference SQL",
    row: queued("doc_summarize", "Analyst"),
    act: "claimNext",
    state: "running",
    answer: "claimed it",
    decisions: allow("doc.summarize")
  },
  {
    name: "a refused terminal_exec ahead of an admitted job",
    via: "reference SQL",
    row: queued("terminal_exec", "Analyst"),
    behind: true,
    act: "claimNext",
    state: "failed",
    refusal: "EscalationDenied",
    answer: "claimed the job behind it",
    decisions: deny(...ANALYST_ONLY)
  },
  {
    name: "a refused terminal_exec ahead of an admitted job, under a worker pool",
    via: "reference SQL",
    row: queued("terminal_exec", "Analyst"),
    behind: true,
    act: "worker",
    state: "failed",
    refusal: "EscalationDenied",
    answer: "ran only the job behind it",
    decisions: deny(...ANALYST_ONLY)
  },
  {
    name: "a queued terminal_exec under Analyst, started by name",
    via: "reference SQL",
    row: queued("terminal_exec", "Analyst"),
    act: "start",
    state: "failed",
    refusal: "EscalationDenied",
    answer: "EscalationDenied",
    decisions: deny(...ANALYST_ONLY)
  },
  {
    name: "a stalled terminal_exec under Analyst, resumed",
    via: "reference SQL",
    row: { ...queued("terminal_exec", "Analyst"), status: "stalled" },
    act: "resume",
    state: "failed",
    refusal: "EscalationDenied",
    answer: "EscalationDenied",
    decisions: deny(...ANALYST_ONLY)
  },
  {
    name: "an awaiting_user doc_edit under Analyst, reworked",
    via: "reference SQL",
    row: { ...queued("doc_edit", "Analyst"), status: "awaiting_user" },
    act: "rework",
    state: "failed",
    refusal: "EscalationDenied",
    answer: "EscalationDenied",
    decisions: deny(...ANALYST_ONLY)
  },
  {
    name: "a terminal_exec under Analyst stored with JobStore.createJob",
    via: "createJob",
    row: queued("terminal_exec", "Analyst"),
    act: "claimNext",
    state: "failed",
    refusal: "EscalationDenied",
    answer: "nothing to claim",
    decisions: deny(...ANALYST_ONLY)
  },
  {
    name: "a doc_summarize under Coder stored with JobStore.createJob, started by name",
    via: "createJob",
    row: queued("doc_summarize", "Coder"),
    act: "start",
    state: "failed",
    refusal: "EscalationDenied",
    answer: "EscalationDenied",
    decisions: deny(...CODER_ONLY)
  }
]

/** The capability decisions among `events`, as `allow|deny <id>`. */
const decisionsIn = (events: ReadonlyArray<EventRecord>) =>
  events.filter((e) => e.type === "capability_action").map((e) => `${e.body.decision_outcome} ${e.body.capability_id}`)

/** The lifecycle changes among `events`, as `from->to`. */
const changesIn = (events: ReadonlyArray<EventRecord>) =>
  events.filter((e) => e.type === "system").map((e) => `${e.body.from_state}->${e.body.to_state}`)

/** Every capability decision says who asked and which job, and is the system's. */
const assertAudited = (events: ReadonlyArray<EventRecord>, job: { readonly job_id: string; readonly trace_id: string }, actorId: string) => {
  for (const event of events.filter((e) => e.type === "capability_action")) {
    assert.strictEqual(event.actor, "system")
    assert.strictEqual(event.body.actor_id, actorId)
    assert.strictEqual(event.job_id, job.job_id)
    assert.strictEqual(event.trace_id, job.trace_id)
  }
}

const uuid = () => crypto.randomUUID()

export const runEscalationSuite = (backend: CapabilityBackend) => {
  describe(`capability escalation table on ${backend.name}`, () => {
    for (const row of submitRows) {
      it.effect(`R15 submit: ${row.name} → ${row.outcome}`, () =>
        Effect.gen(function*() {
          const jobs = yield* Jobs
          const store = yield* JobStore
          const ids = { job_id: uuid(), trace_id: uuid() }
          const result = yield* Effect.either(jobs.submit({
            protocol_id: "hsk.test.v1",
            profile_id: "tester",
            access_mode: "analysis_only",
            safety_mode: "normal",
            ...ids,
            ...row.request
          }))
          assert.strictEqual(Either.match(result, { onLeft: (e) => e._tag, onRight: (job) => `queued ${job.capability_profile_id}` }), row.outcome)

          const events = (yield* store.listEvents({ limit: 1000 })).items
          assert.deepStrictEqual(decisionsIn(events), row.decisions)
          assertAudited(events, ids, "tester")
          const stored = (yield* store.listJobs()).items
          if (Either.isLeft(result)) {
            assert.deepStrictEqual(stored, [], "a refused job is never stored")
            assert.deepStrictEqual(changesIn(events), [])
          } else {
            assert.deepStrictEqual(stored.map((job) => [job.job_id, job.state, job.capability_profile_id]), [[ids.job_id, "queued", result.right.capability_profile_id]])
            assert.deepStrictEqual(changesIn(events), ["null->queued"])
          }
          for (const job of stored) assert.deepStrictEqual(yield* store.listRuns(job.job_id), [])
        }).pipe(Effect.provide(servicesUnder(Capabilities.layer(row.policy ?? defaultConfig), backend.fresh()))))
    }

    for (const row of policyRows) {
      it.effect(`HSK-4001 policy: ${row.name} → ${row.outcome} when the layer is built`, () =>
        Effect.gen(function*() {
          const store = yield* JobStore
          const error = yield* Effect.flip(Layer.build(servicesUnder(Capabilities.layer(row.policy), Layer.succeed(JobStore, store))))
          assert.strictEqual(error._tag, row.outcome)
          if (error._tag === "UnknownCapability") {
            assert.strictEqual(error.capability_id, row.named)
            assert.strictEqual(error.code, "HSK-4001")
            assert.include(error.message, "HSK-4001")
          } else if (error._tag === "UnknownProfile") {
            assert.strictEqual(error.profile_id, row.named)
          }
          assert.deepStrictEqual((yield* store.listJobs()).items, [])
          assert.deepStrictEqual((yield* store.listEvents()).items, [])
        }).pipe(Effect.scoped, Effect.provide(backend.fresh())))
    }

    for (const row of storedRows) {
      const subject: ReferenceRow = { ...row.row, id: uuid(), trace_id: uuid(), created_at: "2024-05-01 10:00:00" }
      const behind: ReferenceRow = { ...queued("doc_summarize", "Analyst"), id: uuid(), trace_id: uuid(), created_at: "2024-05-01 10:00:05" }
      const referenceRows = row.via === "reference SQL" ? [subject, ...(row.behind ? [behind] : [])] : []

      it.effect(`R15 ${row.via}: ${row.name}, then ${row.act} → ${row.state}, ${row.answer}`, () =>
        Effect.gen(function*() {
          // After the reference rows were written (May 2024): a job is never claimed before it existed.
          yield* TestClock.setTime(Date.UTC(2025, 0, 1))
          const jobs = yield* Jobs
          const store = yield* JobStore
          if (row.via === "createJob") {
            yield* store.createJob({
              job_id: subject.id as JobId,
              trace_id: subject.trace_id as TraceId,
              job_kind: subject.job_kind as JobKind,
              protocol_id: subject.protocol_id,
              profile_id: "default",
              capability_profile_id: subject.capability_profile_id,
              access_mode: "analysis_only",
              safety_mode: "normal",
              entity_refs: [],
              planned_operations: [],
              job_inputs: null,
              status_reason: "",
              is_pinned: false,
              priority: 0
            })
          }
          const subjectId = subject.id as JobId
          const ran = yield* Ref.make<ReadonlyArray<string>>([])

          const answer: string = yield* Effect.gen(function*() {
            switch (row.act) {
              case "claimNext": {
                const claim = yield* jobs.claimNext()
                return claim === null ? "nothing to claim" : claim.job.job_id === subjectId ? "claimed it" : "claimed the job behind it"
              }
              case "worker": {
                yield* Effect.scoped(Effect.gen(function*() {
                  yield* jobs.worker({
                    concurrency: 1,
                    pollInterval: "1 second",
                    handler: (ctx) => Ref.update(ran, (ids) => [...ids, ctx.job.job_id])
                  })
                  yield* untilDone(Effect.map(jobs.get(behind.id as JobId), (job) => job.state === "completed"))
                }))
                const handled = yield* Ref.get(ran)
                return handled.includes(subjectId) ? "ran the refused job" : handled.includes(behind.id) ? "ran only the job behind it" : "ran nothing"
              }
              default: {
                const begin = row.act === "start" ? jobs.start : row.act === "resume" ? jobs.resume : jobs.rework
                return yield* Effect.match(begin(subjectId), { onFailure: (e) => e._tag, onSuccess: () => "began it" })
              }
            }
          })
          assert.strictEqual(answer, row.answer)

          const job = yield* jobs.get(subjectId)
          assert.strictEqual(job.state, row.state)
          const events = (yield* store.listEvents({ job_id: subjectId, limit: 1000 })).items
          assert.deepStrictEqual(decisionsIn(events), row.decisions)
          assertAudited(events, { job_id: subject.id, trace_id: subject.trace_id }, row.actor ?? "default")

          if (row.state === "failed") {
            // Refused: failed from where it stood, with its reason — and it never ran.
            assert.deepStrictEqual(changesIn(events), [`${row.row.status}->failed`])
            const checkpoint = row.act === "claimNext" || row.act === "worker" ? "claim" : row.act
            assert.strictEqual(job.status_reason, `refused by the capability policy at ${checkpoint}: ${row.refusal}`)
            assert.isNotEmpty(job.error_message)
            assert.isNull(job.workflow_run_id)
            assert.deepStrictEqual(yield* store.listRuns(subjectId), [], "a refused job gets no workflow run")
            assert.notInclude(yield* Ref.get(ran), subjectId)
          } else {
            assert.deepStrictEqual(changesIn(events), ["queued->running"])
            assert.strictEqual(job.capability_profile_id, row.row.capability_profile_id)
            assert.lengthOf(yield* store.listRuns(subjectId), 1)
          }
        }).pipe(Effect.provide(servicesUnder(Capabilities.layerDefault, row.via === "reference SQL" ? backend.withReferenceRows(referenceRows) : backend.fresh()))), 60_000)
    }
  })
}
