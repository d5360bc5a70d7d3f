/**
 * Issue 16: `Jobs.claimNext` in one statement on PostgreSQL, one
 * transaction on SQLite (`JobStore.claimAdmitted`). Under the built-in (deterministic) capability
 * policy, Jobs remembers the records of each admitted subject — kind,
 * protocol, profile, requested profile — prepared once for a placeholder
 * job, and the store claims a job of a remembered subject and writes those
 * records with the job's ids in the claim's own statement.
 *
 * It must write exactly what the general path (BEGIN, claim, records,
 * COMMIT) writes, caller text redacted and NFC-normalised; refuse what the
 * policy refuses; never pass a job over for a newer one; ask a policy that
 * does not declare itself deterministic on every claim; hand each job to
 * one of many racing claimers once; and write nothing when it fails. Each
 * scenario runs on both stores (on SQLite the claim is one transaction of
 * the run, the job and the records, none built per claim).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import * as Capabilities from "../../src/Capabilities.js"
import type { NewAiJobInput } from "../../src/domain/AiJob.js"
import type { EventRecord } from "../../src/domain/EventRecord.js"
import { FlightEvent } from "../../src/domain/FlightEvent.js"
import { EventId, JobId, TraceId } from "../../src/domain/Ids.js"
import { uuidv7 } from "../../src/domain/uuidv7.js"
import { MAX_TEMPLATES } from "../../src/internal/jobs/claimTemplates.js"
import { Jobs } from "../../src/Jobs.js"
import { type AdmittedClaim, type ClaimTemplate, JobStore } from "../../src/store/JobStore.js"
import { claimAll } from "../support/drain.js"
import { newJob } from "../store/fixtures.js"
import { servicesUnder } from "./services.js"
import { realSleep, type SharedBackend, sharedBackends } from "./shared-database.js"

type Store = JobStore["Type"]

const decodeEvent = Schema.decodeUnknownEither(FlightEvent, { errors: "all", onExcessProperty: "error" })

const SECRET_TAIL = "abcdefghijklmnop1234"
const SECRET = `Bearer ${SECRET_TAIL}`
/** A decomposed é (NFC composes it), a snowman, an astral emoji and a zero-width space. */
const ODD = "Ame\u0301lie \u2603 \u{1F600}\u200B"
const GOVERNANCE = Capabilities.GOVERNANCE_PACK_EXPORT_PROTOCOL_ID

/** The store counting what its one-statement claim answered. */
const counting = (store: Store) => {
  const answers = { calls: 0, claimed: 0, undecided: 0, widestTemplates: 0 }
  const claimAdmitted = store.claimAdmitted
  const counted: Store = claimAdmitted === undefined ? store : {
    ...store,
    claimAdmitted: (options) => {
      answers.calls++
      answers.widestTemplates = Math.max(answers.widestTemplates, options.templates.length)
      return Effect.tap(claimAdmitted(options), (answer) =>
        Effect.sync(() => {
          if (answer?._tag === "Claimed") answers.claimed++
          if (answer?._tag === "Undecided") answers.undecided++
        }))
    }
  }
  return { store: counted, answers }
}

/** The store without its one-statement claim: Jobs takes the general path. */
const generalOnly = (store: Store): Store => {
  const { claimAdmitted: _, ...rest } = store
  return rest
}

/** Jobs over `store` (default policy and recorder), built in the test's scope. */
const jobsOver = (store: Store, capabilities: Layer.Layer<Capabilities.Capabilities> = Capabilities.layerDefault) =>
  Effect.map(Layer.build(servicesUnder(capabilities, Layer.succeed(JobStore, store))), (context) => Context.get(context, Jobs))

/**
 * A record as stored, its ids replaced by names — the claim's run `run`, its
 * event id by its place — and its time as text, so two databases' records compare.
 */
const comparable = (record: EventRecord, runId: string | null) => {
  const name = (id: unknown) => (id !== null && id === runId ? "run" : id)
  const body = Object.fromEntries(Object.entries(record.body).map(([key, value]) =>
    [key, key === "event_id" ? "event" : key === "workflow_run_id" ? name(value) : value]
  ))
  return {
    event_id: typeof record.event_id,
    timestamp: DateTime.formatIso(record.timestamp),
    actor: record.actor,
    type: record.type,
    trace_id: record.trace_id,
    job_id: record.job_id,
    workflow_run_id: name(record.workflow_run_id),
    body
  }
}

/** Each record decodes as a `FlightEvent`, and no caller secret reached it. */
const checkRecords = (records: ReadonlyArray<EventRecord>) => {
  for (const record of records) {
    const decoded = decodeEvent(record.body)
    assert.isTrue(decoded._tag === "Right", `${record.type} decodes as FlightEvent: ${JSON.stringify(record.body)}`)
    assert.notInclude(JSON.stringify(record.body), SECRET_TAIL, "caller text redacted")
  }
}

/** Every job of `ids`: its row, runs and records, as comparable across databases. */
const outcomeOf = (store: Store, ids: ReadonlyArray<JobId>) =>
  Effect.forEach(ids, (id) =>
    Effect.gen(function*() {
      const job = yield* store.getJob(id)
      const runs = yield* store.listRuns(id)
      const records = (yield* store.listEvents({ job_id: id, limit: 100 })).items
      checkRecords(records)
      const runId = job.workflow_run_id
      return {
        job: { ...job, workflow_run_id: runId === null ? null : "run", created_at: DateTime.formatIso(job.created_at), updated_at: DateTime.formatIso(job.updated_at), run_after: DateTime.formatIso(job.run_after) },
        runs: runs.map((run) => [run.id === runId ? "run" : run.id, run.status, DateTime.formatIso(run.created_at)]),
        records: records.map((record) => comparable(record, runId))
      }
    }))

/**
 * One job per subject, in queue order: an ordinary one; a profile id the
 * redactor changes; odd Unicode in the profile and protocol; the
 * governance-pack protocol under Operator (three decisions); one the policy
 * refuses (a doc_summarize job asking for Coder); then two more of
 * subjects seen before (the memo's).
 */
const SUBJECTS: ReadonlyArray<Partial<NewAiJobInput>> = [
  {},
  { profile_id: `svc ${SECRET}` },
  { profile_id: ODD, protocol_id: `proto ${ODD}` },
  { job_kind: "workflow_run", protocol_id: GOVERNANCE, capability_profile_id: "Operator" },
  { capability_profile_id: "Coder" },
  {},
  { profile_id: `svc ${SECRET}` }
]

/** Queues `SUBJECTS` (fixed ids, 1 ms apart) and claims until none is left, through `store`. */
const claimScenario = (store: Store, ids: ReadonlyArray<{ readonly job_id: JobId; readonly trace_id: TraceId }>) =>
  Effect.gen(function*() {
    // Each database's scenario from the same instant: the two compare field for field.
    yield* TestClock.setTime(0)
    const jobs = yield* jobsOver(store)
    for (const [i, subject] of SUBJECTS.entries()) {
      yield* store.createJob(newJob({ ...subject, ...ids[i]! }))
      yield* TestClock.adjust("1 millis")
    }
    const claims = yield* claimAll(() => jobs.claimNext())
    const jobIds = ids.map((id) => id.job_id)
    return {
      order: claims.map((claim) => jobIds.indexOf(claim.job.job_id)),
      jobs: yield* outcomeOf(store, jobIds)
    }
  })

const racersOf = (backend: SharedBackend) => backend.name === "PostgreSQL" ? 16 : 8

describe("issue 16 a claim in one statement", () => {
  for (const backend of sharedBackends) {
    it.scoped(
      `issue 16 ${backend.name}: the one-statement claim writes field for field what the general path writes — same order, same job rows and runs, the same capability and lifecycle records (redacted, NFC), every one a FlightEvent; a refused subject still ends queued → failed with its denials`,
      () =>
        Effect.gen(function*() {
          const ids = SUBJECTS.map(() => ({ job_id: JobId.make(uuidv7()), trace_id: TraceId.make(uuidv7()) }))
          const one = counting(yield* (yield* backend.fresh("claim one statement")).store())
          const two = yield* (yield* backend.fresh("claim general")).store()
          const fast = yield* claimScenario(one.store, ids)
          const general = yield* claimScenario(generalOnly(two), ids)
          // Six admitted jobs, all claimed by the one statement; four subjects met first (and the refused one).
          assert.deepStrictEqual([one.answers.claimed, one.answers.undecided], [6, 5], "the one-statement path claimed them")
          assert.deepStrictEqual(fast, general)
          assert.deepStrictEqual(fast.order, [0, 1, 2, 3, 5, 6], "in queue order, the refused one never claimed")

          const [ordinary, secret, odd, governance, refused] = fast.jobs
          assert.deepStrictEqual(ordinary!.records.map((r) => [r.type, r.body["decision_outcome"] ?? r.body["to_state"]]), [
            ["capability_action", "allow"],
            ["system", "running"]
          ])
          assert.strictEqual(secret!.records[0]!.body["actor_id"], "svc Bearer [REDACTED]")
          assert.strictEqual(odd!.records[0]!.body["actor_id"], ODD.normalize("NFC"))
          assert.notStrictEqual(ODD.normalize("NFC"), ODD)
          assert.deepStrictEqual(governance!.records.map((r) => r.type), ["capability_action", "capability_action", "capability_action", "system"])
          assert.deepStrictEqual(governance!.records[3]!.workflow_run_id, "run")
          assert.strictEqual(refused!.job.state, "failed")
          assert.deepStrictEqual(refused!.runs, [])
          assert.deepStrictEqual(refused!.records.map((r) => `${r.type} ${r.body["decision_outcome"] ?? r.body["to_state"]}`), [
            "capability_action deny",
            "capability_action deny",
            "capability_action deny",
            "system failed"
          ])
        }),
      180_000
    )

    it.scoped(
      `issue 16 ${backend.name}: a job of a subject not yet admitted is claimed in its turn, never passed over for a newer job of a remembered one, and more subjects than the memo holds are all claimed in order`,
      () =>
        Effect.gen(function*() {
          const { answers, store } = counting(yield* (yield* backend.fresh("claim order")).store())
          const jobs = yield* jobsOver(store)
          // Subject A remembered.
          yield* store.createJob(newJob())
          assert.isNotNull(yield* jobs.claimNext())
          // Then: a job of a new subject, older than a job of A; then more new subjects than the memo
          // holds, each followed by a job of A, with a refused job among them.
          const queued: Array<{ readonly id: JobId; readonly admitted: boolean }> = []
          const queue = (overrides: Partial<NewAiJobInput>, admitted = true) =>
            Effect.gen(function*() {
              queued.push({ id: (yield* store.createJob(newJob(overrides))).job_id, admitted })
              yield* TestClock.adjust("1 millis")
            })
          yield* queue({ profile_id: "newcomer" })
          yield* queue({})
          for (let i = 0; i < MAX_TEMPLATES + 4; i++) {
            yield* queue({ profile_id: `profile ${i}` })
            yield* queue({})
            if (i === 7) yield* queue({ capability_profile_id: "Coder" }, false)
          }
          const claims = yield* claimAll(() => jobs.claimNext())
          assert.deepStrictEqual(
            claims.map((claim) => claim.job.job_id),
            queued.filter((job) => job.admitted).map((job) => job.id),
            "every admitted job, in queue order"
          )
          const refused = queued.find((job) => !job.admitted)!
          assert.strictEqual((yield* store.getJob(refused.id)).state, "failed")
          for (const claim of claims) {
            const records = (yield* store.listEvents({ job_id: claim.job.job_id })).items
            checkRecords(records)
            assert.deepStrictEqual(records.map((r) => [r.type, r.trace_id, r.job_id]), [
              ["capability_action", claim.job.trace_id, claim.job.job_id],
              ["system", claim.job.trace_id, claim.job.job_id]
            ])
            assert.strictEqual(records[0]!.body["actor_id"], claim.job.profile_id)
            assert.strictEqual(records[1]!.workflow_run_id, claim.run.id)
          }
          assert.strictEqual(answers.claimed, claims.length + 1, "every claim took the one statement")
          assert.isAtMost(answers.widestTemplates, MAX_TEMPLATES, "the memo is bounded")
          assert.strictEqual(answers.widestTemplates, MAX_TEMPLATES, "and was filled")
        }),
      180_000
    )

    it.scoped(
      `issue 16 ${backend.name}: a capability policy that does not declare itself deterministic is asked on every claim — one that changes its mind between claims refuses the next job`,
      () =>
        Effect.gen(function*() {
          const builtIn = yield* Capabilities.make(Capabilities.defaultConfig)
          assert.isTrue(builtIn.deterministic, "the built-in policy declares itself deterministic")
          const admit = yield* Ref.make(true)
          let asked = 0
          // The built-in rules, but refusing (asking for Coder instead) once told to.
          const fickle = Capabilities.Capabilities.of({
            placementFor: builtIn.placementFor,
            profileCan: builtIn.profileCan,
            check: (job, requested) =>
              Effect.flatMap(Ref.get(admit), (yes) => {
                asked++
                return builtIn.check(job, yes ? requested : "Coder")
              })
          })
          const { answers, store } = counting(yield* (yield* backend.fresh("claim fickle")).store())
          const jobs = yield* jobsOver(store, Layer.succeed(Capabilities.Capabilities, fickle))
          const [first, second, third] = yield* Effect.forEach([0, 1, 2], () =>
            Effect.zipLeft(store.createJob(newJob()), TestClock.adjust("1 millis")))
          assert.strictEqual((yield* jobs.claimNext())?.job.job_id, first!.job_id)
          assert.strictEqual(asked, 1)
          yield* Ref.set(admit, false)
          assert.isNull(yield* jobs.claimNext(), "both others refused")
          assert.strictEqual(asked, 3, "asked once per job claimed")
          for (const job of [second!, third!]) {
            const stored = yield* store.getJob(job.job_id)
            assert.strictEqual(stored.state, "failed")
            const records = (yield* store.listEvents({ job_id: job.job_id })).items
            assert.deepStrictEqual(records.map((r) => r.body["decision_outcome"] ?? r.body["to_state"]), ["deny", "deny", "deny", "failed"])
          }
          assert.strictEqual(answers.calls, 0, "the one-statement claim is never used")
        }),
      120_000
    )

    it.live(
      `issue 16 ${backend.name}: ${racersOf(backend)} claimers, each with its own ${backend.name === "PostgreSQL" ? "pool" : "connection"}, over a one-subject queue and over a mixed one with refused jobs: every job claimed once, one run each, its records once`,
      () =>
        Effect.gen(function*() {
          const racers = racersOf(backend)
          for (const mixed of [false, true]) {
            const database = yield* backend.fresh(mixed ? "claim race mixed" : "claim race")
            const setup = yield* database.store()
            // Mixed: five subjects, one of them refused (a doc_summarize job asking for Coder).
            const subjectOf = (i: number): { readonly overrides: Partial<NewAiJobInput>; readonly admitted: boolean } => {
              if (!mixed) return { overrides: {}, admitted: true }
              switch (i % 5) {
                case 0:
                  return { overrides: { capability_profile_id: "Coder" }, admitted: false }
                case 1:
                  return { overrides: { job_kind: "workflow_run", protocol_id: GOVERNANCE, capability_profile_id: "Operator" }, admitted: true }
                default:
                  return { overrides: { profile_id: `racer ${i % 5}` }, admitted: true }
              }
            }
            const queued = yield* Effect.forEach(Array.from({ length: 120 }, (_, i) => subjectOf(i)), ({ admitted, overrides }) =>
              Effect.map(setup.createJob(newJob(overrides)), (job) => ({ job, admitted })))
            const start = yield* Deferred.make<void>()
            let oneStatement = 0
            const perRacer = yield* Effect.forEach(Array.from({ length: racers }), () =>
              Effect.gen(function*() {
                const own = yield* database.store({ maxConnections: 2 })
                const countClaimed = (answer: AdmittedClaim | null) =>
                  Effect.sync(() => {
                    if (answer?._tag === "Claimed") oneStatement++
                  })
                // Windows held open on purpose: after a subject is found new (before it is claimed
                // again), and before a refused job is failed (after its claim rolled back).
                const widened: Store = {
                  ...own,
                  ...(own.claimAdmitted === undefined ? {} : {
                    claimAdmitted: (options: Parameters<NonNullable<Store["claimAdmitted"]>>[0]) =>
                      Effect.tap(own.claimAdmitted!(options), (answer: AdmittedClaim | null) =>
                        answer?._tag === "Undecided" ? realSleep(5) : countClaimed(answer))
                  }),
                  transition: (request) =>
                    request.to === "failed" ? Effect.zipRight(realSleep(5), own.transition(request)) : own.transition(request)
                }
                const jobs = yield* jobsOver(widened)
                return Effect.zipRight(
                  Deferred.await(start),
                  // A pause after each claim: the others get their turn (SQLite's write lock, once free, would
                  // otherwise go to the claimer that just let it go, before any sleeping waiter wakes).
                  Effect.map(claimAll(() => Effect.zipLeft(jobs.claimNext(), realSleep(1))), (claims) => claims.map((claim) => claim.job.job_id))
                )
              }))
            const running = yield* Effect.fork(Effect.all(perRacer, { concurrency: "unbounded" }))
            yield* Deferred.succeed(start, undefined)
            const claimed = yield* Effect.fromFiber(running)
            const all = claimed.flat()
            assert.isAbove(claimed.filter((ids) => ids.length > 0).length, 1, "the claimers shared the work")
            // Every claim of a one-subject queue is one statement; in the mixed one, the general
            // claim that takes a refused job may find an admitted one instead (another took the refused one).
            if (mixed) assert.isAbove(oneStatement, 0, "the one-statement claim raced")
            else assert.strictEqual(oneStatement, queued.length, "every claim was one statement")
            assert.strictEqual(new Set(all).size, all.length, "no job claimed twice")
            assert.deepStrictEqual(
              [...all].sort(),
              queued.filter((q) => q.admitted).map((q) => q.job.job_id as string).sort(),
              "every admitted job claimed, no refused one"
            )
            for (const { admitted, job } of queued) {
              const runs = yield* setup.listRuns(job.job_id)
              const records = (yield* setup.listEvents({ job_id: job.job_id, limit: 100 })).items
              checkRecords(records)
              const decisions = job.job_kind === "workflow_run" ? 3 : admitted ? 1 : 3
              const outcome = admitted ? "allow" : "deny"
              assert.strictEqual(runs.length, admitted ? 1 : 0, "one run for a claimed job, none for a refused one")
              assert.deepStrictEqual(
                records.map((r) => r.type === "system" ? `${r.body["from_state"]}->${r.body["to_state"]}` : `${r.body["decision_outcome"]}`),
                [...Array<string>(decisions).fill(outcome), admitted ? "queued->running" : "queued->failed"],
                "its records, once"
              )
              if (admitted) assert.strictEqual(records[decisions]!.workflow_run_id, runs[0]!.id)
              assert.strictEqual((yield* setup.getJob(job.job_id)).state, admitted ? "running" : "failed")
            }
          }
        }).pipe(Effect.scoped),
      300_000
    )
  }

  for (const backend of sharedBackends) {
  it.scoped(`issue 16 ${backend.name}: a taken event id, an id given twice, too few ids or a bad template fail the one-statement claim and write nothing; then it claims the job with the records as given`, () =>
    Effect.gen(function*() {
      const store = yield* (yield* backend.fresh("claim atomic")).store()
      const claimAdmitted = store.claimAdmitted
      if (claimAdmitted === undefined) return assert.fail(`${backend.name} has the one-statement claim`)
      const jobs = yield* jobsOver(store)
      // The records of an earlier claim of the same subject, as templates (their ids are replaced).
      yield* store.createJob(newJob({ profile_id: `svc ${SECRET}` }))
      const earlier = yield* jobs.claimNext()
      if (earlier === null) return assert.fail("setup: a claim")
      const records = (yield* store.listEvents({ job_id: earlier.job.job_id })).items
      const template: ClaimTemplate = {
        job_kind: earlier.job.job_kind,
        protocol_id: earlier.job.protocol_id,
        profile_id: earlier.job.profile_id,
        capability_profile_id: earlier.job.capability_profile_id,
        records
      }
      const job = yield* store.createJob(newJob({ profile_id: `svc ${SECRET}` }))
      const before = (yield* store.listEvents({ limit: 1000 })).items.length
      const unchanged = Effect.gen(function*() {
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "queued")
        assert.deepStrictEqual(yield* store.listRuns(job.job_id), [])
        assert.strictEqual((yield* store.listEvents({ limit: 1000 })).items.length, before, "no record written")
      })
      const fresh = () => EventId.make(uuidv7())

      const taken = yield* Effect.flip(claimAdmitted({ templates: [template], event_ids: [fresh(), records[0]!.event_id] }))
      assert.strictEqual(taken._tag, "StorageError")
      yield* unchanged
      const twice = fresh()
      assert.strictEqual((yield* Effect.flip(claimAdmitted({ templates: [template], event_ids: [twice, twice] })))._tag, "StorageError")
      yield* unchanged
      const tooFew = yield* Effect.flip(claimAdmitted({ templates: [template], event_ids: [fresh()] }))
      assert.strictEqual(tooFew._tag, "DecodeFailure")
      yield* unchanged
      const alias = yield* Effect.flip(claimAdmitted({ templates: [{ ...template, job_kind: "term_exec" as "terminal_exec" }], event_ids: [fresh(), fresh()] }))
      assert.strictEqual(alias._tag, "DecodeFailure")
      const unstorable = yield* Effect.flip(claimAdmitted({ templates: [{ ...template, profile_id: "a\u0000b" }], event_ids: [fresh(), fresh()] }))
      assert.strictEqual(unstorable._tag, "DecodeFailure")
      yield* unchanged

      // Not this job's subject: nothing claimed, its subject answered.
      const other = yield* claimAdmitted({ templates: [{ ...template, profile_id: "someone else" }], event_ids: [fresh(), fresh()] })
      assert.deepStrictEqual(other, {
        _tag: "Undecided",
        subject: { job_kind: "doc_summarize", protocol_id: job.protocol_id, profile_id: job.profile_id, capability_profile_id: "Analyst" }
      })
      yield* unchanged

      const ids = [fresh(), fresh()]
      const claimed = yield* claimAdmitted({ templates: [template], event_ids: ids })
      if (claimed?._tag !== "Claimed") return assert.fail("claimed")
      assert.strictEqual(claimed.claim.job.job_id, job.job_id)
      const written = (yield* store.listEvents({ job_id: job.job_id })).items
      checkRecords(written)
      assert.deepStrictEqual(written.map((r) => r.event_id), ids)
      // The earlier claim's records, field for field, with this job's ids, run and event ids.
      assert.deepStrictEqual(
        written.map((r) => comparable(r, claimed.claim.run.id)),
        records.map((r) => ({
          ...comparable(r, earlier.run.id),
          trace_id: job.trace_id,
          job_id: job.job_id,
          body: { ...comparable(r, earlier.run.id).body, trace_id: job.trace_id, job_id: job.job_id }
        }))
      )
    }), 120_000)
  }
})
