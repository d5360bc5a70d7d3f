/**
 * A job's names — `protocol_id`, `profile_id`, `capability_profile_id` — as the stores hold them
 * (R14, R15), run unchanged on each store. Found by an outside probe: the row kept a name as given
 * while the job's `capability_action` events, which NFC-normalise all caller text, named another
 * actor (`Jose\u0301` in the row, `José` in the event). A name is decoded to NFC at the boundary, so
 * the policy, the row and the events see one form. A name is an identity and a lookup key, so it is
 * stored and looked up as given even when the redaction rules match it (`password-reset:v2`,
 * `sk-moderation-bot`, a caller's rule over `Coder`); its events, which redact caller text, then
 * read differently from the row: a documented limit (keep secrets out of names).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Capabilities from "../../src/Capabilities.js"
import * as FlightRecorder from "../../src/FlightRecorder.js"
import * as Jobs from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import * as WakeUp from "../../src/WakeUp.js"
import type { NewAiJob } from "../../src/domain/AiJob.js"
import type { DecodeFailure } from "../../src/domain/Errors.js"
import { JobStore } from "../../src/store/JobStore.js"
import type { Backend } from "../support/backend.js"
import { summarize } from "./jobs.suite.js"
import { services, servicesUnder } from "./services.js"

const NFD_NAME = "Jose\u0301"
const NFC_NAME = "Jos\u00e9"

/** A policy with a profile and a protocol override whose names are not ASCII, written in NFC. */
const accentedPolicy = Capabilities.layer({
  ...Capabilities.defaultConfig,
  profiles: { ...Capabilities.defaultConfig.profiles, "\u00c9quipe": ["doc.summarize", "fs.read"] },
  protocols: [
    ...Capabilities.defaultConfig.protocols,
    { job_kind: "doc_summarize", protocol_id: "r\u00e9sum\u00e9.v1", profile: "Coder", requires: ["doc.summarize"] }
  ]
})

/** The same policy written in NFD: the kind's profile and the override's protocol decomposed. */
const decomposedPolicy = Capabilities.layer({
  ...Capabilities.defaultConfig,
  profiles: { ...Capabilities.defaultConfig.profiles, "E\u0301quipe": ["doc.summarize", "fs.read"] },
  kinds: { ...Capabilities.defaultConfig.kinds, doc_summarize: { profile: "E\u0301quipe", requires: ["doc.summarize"] } },
  protocols: [
    ...Capabilities.defaultConfig.protocols,
    { job_kind: "doc_summarize", protocol_id: "re\u0301sume\u0301.v1", profile: "Coder", requires: ["doc.summarize"] }
  ]
})

/** Ordinary protocol names the default `namedSecret` rule matches. */
const SECRET_LOOKING_PROTOCOLS = ["password-reset:v2", "apikey:rotate", "auth-token:refresh"]

/** An ordinary profile name the default `apiKey` rule matches. */
const SECRET_LOOKING_PROFILE = "sk-moderation-bot"

/** A caller's redaction rule that matches the default policy's profile Coder. */
const teamNames = { name: "team-names", pattern: /\bCoder\b/g, replacement: "[TEAM]" }

/** The job and event rows, as the database holds them. */
const rawRows = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const jobs = yield* sql<{ readonly protocol_id: string; readonly profile_id: string; readonly capability_profile_id: string }>`
    SELECT protocol_id, profile_id, capability_profile_id FROM ai_jobs`
  const events = yield* sql`SELECT * FROM flight_recorder_events`
  return { jobs, events: JSON.stringify(events), eventCount: events.length }
})

/** The actors the job's `capability_action` events name. */
const actorsOf = (jobId: string) =>
  Effect.gen(function*() {
    const recorder = yield* FlightRecorder.FlightRecorder
    const page = yield* recorder.list({ job_id: jobId as never, types: ["capability_action"] })
    return page.items.map((event) => (event as { readonly actor_id?: unknown }).actor_id)
  })

export const runJobNamesSuite = (backend: Backend) => {
  const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.provide(effect, services(backend.makeStoreWithSql()) as Layer.Layer<Exclude<R, never>, unknown>)
  const provideUnder = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.provide(effect, servicesUnder(accentedPolicy, backend.makeStoreWithSql()) as Layer.Layer<Exclude<R, never>, unknown>)

  const provideRedactingCoder = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.provide(
      effect,
      Jobs.layer().pipe(
        Layer.provideMerge(Recovery.layerNoStartupRecovery),
        Layer.provideMerge(WakeUp.layerPollOnly),
        Layer.provideMerge(FlightRecorder.layer({ redactionRules: [teamNames] })),
        Layer.provideMerge(Capabilities.layerDefault),
        Layer.provideMerge(backend.makeStoreWithSql())
      ) as Layer.Layer<Exclude<R, never>, unknown>
    )

  const provideDecomposed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.provide(effect, servicesUnder(decomposedPolicy, backend.makeStoreWithSql()) as Layer.Layer<Exclude<R, never>, unknown>)

  describe(`a job's names on ${backend.name}`, () => {
    it.effect("R14 a profile and protocol id given in NFD are stored in NFC: the job row names the actor its capability_action events name (submit and submitMany)", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const one = yield* jobs.submit(summarize({ profile_id: NFD_NAME, protocol_id: `proto-${NFD_NAME}` }))
        const [many] = yield* jobs.submitMany([summarize({ profile_id: NFD_NAME, protocol_id: `proto-${NFD_NAME}` })])
        for (const job of [one, many!]) {
          assert.strictEqual(job.profile_id, NFC_NAME)
          assert.strictEqual(job.protocol_id, `proto-${NFC_NAME}`)
          const stored = yield* jobs.get(job.job_id)
          assert.deepStrictEqual(yield* actorsOf(job.job_id), [stored.profile_id])
        }
        const rows = yield* rawRows
        assert.deepStrictEqual(rows.jobs.map((row) => [row.profile_id, row.protocol_id]), [[NFC_NAME, `proto-${NFC_NAME}`], [NFC_NAME, `proto-${NFC_NAME}`]])
      })))

    it.effect("R15 a protocol and a requested profile given in NFD meet the policy's names written in NFC: the override places the job, the profile is granted and stored as the policy names it", () =>
      provideUnder(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        // The policy's override for this protocol places it under Coder, not the kind's Analyst.
        const placed = yield* jobs.submit(summarize({ protocol_id: "re\u0301sume\u0301.v1" }))
        assert.strictEqual(placed.capability_profile_id, "Coder")
        // A narrower profile asked for by its NFD name is the policy's profile, not an unknown one.
        const narrowed = yield* jobs.submit(summarize({ capability_profile_id: "E\u0301quipe" }))
        assert.strictEqual(narrowed.capability_profile_id, "\u00c9quipe")
        const rows = yield* rawRows
        assert.deepStrictEqual(rows.jobs.map((row) => row.capability_profile_id).sort(), ["Coder", "\u00c9quipe"])
      })))

    it.effect("R15 a policy whose names are written in NFD places, stores and claims a job under them: the row holds the NFC name and the claim's re-check finds it", () =>
      provideDecomposed(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const placed = yield* jobs.submit(summarize())
        assert.strictEqual(placed.capability_profile_id, "\u00c9quipe")
        // Claimed, not failed by its re-check as an unknown profile (the row's NFC name against the policy's NFD one).
        const exit = yield* Effect.exit(jobs.start(placed.job_id))
        assert.strictEqual(exit._tag === "Success" ? exit.value.job.state : String(exit.cause), "running")
        const overridden = yield* jobs.submit(summarize({ protocol_id: "r\u00e9sum\u00e9.v1" }))
        assert.strictEqual(overridden.capability_profile_id, "Coder")
        const asked = yield* jobs.submit(summarize({ capability_profile_id: "\u00c9quipe" }))
        assert.strictEqual(asked.capability_profile_id, "\u00c9quipe")
        for (const job of [overridden, asked]) {
          const claim = yield* jobs.start(job.job_id)
          assert.strictEqual(claim.job.state, "running")
        }
      })))

    it.effect("R14 names are identities: a protocol or profile id the default redaction rules match (password-reset:v2, apikey:rotate, auth-token:refresh, sk-moderation-bot) is accepted, stored as given and claimed (submit and submitMany)", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const requests = [
          ...SECRET_LOOKING_PROTOCOLS.map((protocol_id) => summarize({ protocol_id })),
          summarize({ profile_id: SECRET_LOOKING_PROFILE })
        ]
        const one = yield* Effect.forEach(requests, (request) => jobs.submit(request))
        const many = yield* jobs.submitMany(requests)
        for (const [index, job] of [...one, ...many].entries()) {
          const request = requests[index % requests.length]!
          assert.deepStrictEqual([job.protocol_id, job.profile_id], [request.protocol_id, request.profile_id])
          const claim = yield* jobs.start(job.job_id)
          assert.strictEqual(claim.job.state, "running")
        }
        const rows = yield* rawRows
        const given = requests.map((request) => [request.protocol_id, request.profile_id])
        assert.deepStrictEqual(rows.jobs.map((row) => [row.protocol_id, row.profile_id]).sort(), [...given, ...given].sort())
      })))

    it.effect("R15 a policy profile a caller's redaction rule matches (Coder) is accepted whether the policy places the job there or the request names it, stored as the policy names it, and claimed", () =>
      provideRedactingCoder(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const placed = yield* jobs.submit(summarize({ job_kind: "doc_edit" }))
        const asked = yield* jobs.submit(summarize({ job_kind: "doc_edit", capability_profile_id: "Coder" }))
        const [askedInBatch] = yield* jobs.submitMany([summarize({ job_kind: "doc_edit", capability_profile_id: "Coder" })])
        for (const job of [placed, asked, askedInBatch!]) {
          assert.strictEqual(job.capability_profile_id, "Coder")
          const claim = yield* jobs.start(job.job_id)
          assert.strictEqual(claim.job.state, "running")
        }
        const rows = yield* rawRows
        assert.deepStrictEqual(rows.jobs.map((row) => row.capability_profile_id), ["Coder", "Coder", "Coder"])
      })))

    it.effect("R5 a profile id of 200 characters that NFC makes 400 (200 x U+0958) is refused by submit, submitUntrusted and submitMany saying the bound holds once NFC-normalised and the name's length there; nothing stored", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const request = summarize({ profile_id: "\u0958".repeat(200) })
        const message = "Expected a string at most 256 characters (code points) long once NFC-normalised, the form it is stored in (this name is 400)"
        const refusals: ReadonlyArray<readonly [Effect.Effect<unknown, { readonly _tag: string }>, string]> = [
          [jobs.submit(request), "profile_id"],
          [jobs.submitUntrusted(request), "profile_id"],
          [jobs.submitMany([request]), "0.profile_id"]
        ]
        for (const [submitted, path] of refusals) {
          const refused = yield* Effect.flip(submitted)
          assert.deepStrictEqual(refused._tag === "DecodeFailure" ? (refused as DecodeFailure).issues : refused._tag, [{ path, message }])
        }
        assert.deepStrictEqual((yield* rawRows).jobs, [])
      })))

    it.effect("R14 a profile id of 200 emoji (400 UTF-16 units, 200 characters) is its events' actor too, not 'unknown'", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const profile = "\u{1F600}".repeat(200)
        const job = yield* jobs.submit(summarize({ profile_id: profile }))
        assert.deepStrictEqual(yield* actorsOf(job.job_id), [profile])
      })))

    it.effect("R14 the JobStore port decodes a job's names to NFC as well: createJob and createJobs store one form", () =>
      Effect.provide(
        Effect.gen(function*() {
          const store = yield* JobStore
          // As a caller of the port writes it literally: the port decodes it.
          const job = { ...summarize({ profile_id: NFD_NAME, protocol_id: `proto-${NFD_NAME}` }), capability_profile_id: "E\u0301quipe" } as NewAiJob
          const created = yield* store.createJob(job)
          const [batch] = yield* store.createJobs([job])
          for (const stored of [created, batch!, yield* store.getJob(created.job_id)]) {
            assert.deepStrictEqual([stored.profile_id, stored.protocol_id, stored.capability_profile_id], [NFC_NAME, `proto-${NFC_NAME}`, "\u00c9quipe"])
          }
          const rows = yield* rawRows
          assert.deepStrictEqual(rows.jobs.map((row) => row.capability_profile_id), ["\u00c9quipe", "\u00c9quipe"])
        }),
        backend.makeStoreWithSql()
      ))
  })
}
