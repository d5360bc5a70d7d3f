/**
 * Bad input that writes (issue 8, part 4), on a SQLite file and on
 * PostgreSQL: `Jobs.submit` and `FlightRecorder.record` fed generated hostile
 * input. Every answer is a typed error or a stored value; afterwards every
 * stored row is read back through the store's strict decoders (a row that
 * does not decode is `CorruptRow`) and compared with what the call returned,
 * and the raw tables hold exactly the accepted rows. SQL-injection strings
 * in every free-text field are stored verbatim and never executed.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as fc from "effect/FastCheck"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Schema from "effect/Schema"
import { AiJob } from "../../src/domain/AiJob.js"
import type { EventRecord } from "../../src/domain/EventRecord.js"
import * as FlightRecorder from "../../src/FlightRecorder.js"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { validEvents } from "../flight/fixtures.js"
import { services } from "../jobs/services.js"
import { connectPg, freshPgDatabase } from "../support/pg-database.js"
import { tempSqliteFile } from "../support/stores.js"
import { injections, mutated, nest, nulInjection, surrogates } from "./arbitraries.js"
import { counts, seed, seedFor } from "./config.js"
import { report } from "./report.js"
import { openSqlite } from "./snapshot.js"

/** A database: its store layer and raw SQL for the checks that must not trust the store (the shared `Backend` has no raw query). */
interface RawTarget {
  readonly name: "sqlite" | "pg"
  readonly open: Effect.Effect<{
    readonly layer: Layer.Layer<JobStore, unknown>
    /** Runs a read-only query with positional parameters ($1 on PostgreSQL, ? on SQLite). */
    readonly query: (sql: { readonly pg: string; readonly sqlite: string }, params: ReadonlyArray<unknown>) => Promise<Array<Record<string, unknown>>>
  }, never, Scope.Scope>
}

const sqlite: RawTarget = {
  name: "sqlite",
  open: Effect.sync(() => {
    const filename = tempSqliteFile("fuzz-writes")
    return {
      layer: SqliteStore.layer({ filename }),
      query: async (sql, params) => {
        const db = openSqlite(filename)
        try {
          return db.prepare(sql.sqlite).all(...params)
        } finally {
          db.close()
        }
      }
    }
  })
}

const pg: RawTarget = {
  name: "pg",
  open: Effect.map(
    freshPgDatabase("reliability fuzz writes"),
    (url) => ({
      layer: PgStore.layer({ url }),
      query: async (sql, params) => {
        const client = await connectPg(url)
        try {
          return (await client.query(sql.pg, params)).rows
        } finally {
          await client.end().catch(() => {})
        }
      }
    })
  )
}

const TABLES = ["ai_jobs", "workflow_runs", "workflow_node_executions", "flight_recorder_events", "flight_recorder_retention_grants"]

const tagOf = <A, E>(exit: Exit.Exit<A, E>): string => {
  if (Exit.isSuccess(exit)) return "success"
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "Some") return String((failure.value as { readonly _tag?: unknown })?._tag ?? "untagged")
  return `defect: ${Cause.pretty(exit.cause).split("\n").slice(0, 3).join(" ")}`
}

const encodeJob = Schema.encodeSync(AiJob)

const texts = [...injections, nulInjection, ...surrogates, "plain", "", "é", "e\u0301", "\u0000", "x".repeat(10_000), "y".repeat(70_000)]
const newJobBase = {
  job_kind: "doc_summarize",
  protocol_id: "hsk.fuzz.v1",
  profile_id: "fuzzer",
  capability_profile_id: "Analyst",
  access_mode: "analysis_only",
  safety_mode: "normal"
}
const submitInputs = (n: number, name: string): Array<unknown> =>
  fc.sample(
    fc.tuple(
      mutated(newJobBase, {
        job_kind: ["doc_summarize", "doc_edit", "terminal_exec", "term_exec", "debug_bundle_export", "doc_test"],
        capability_profile_id: ["Analyst", "Coder", "Operator", "analyst", "Nobody"],
        protocol_id: texts,
        profile_id: texts,
        status_reason: texts,
        entity_refs: [[], ...texts.slice(0, 6).map((t) => [{ entity_id: t || "x", entity_kind: t || "y" }])],
        planned_operations: [[], ...texts.slice(0, 6).map((t) => [{ op_type: "write", target: { entity_id: "e", entity_kind: "k" }, description: t }])],
        job_inputs: [null, ...texts.slice(0, 8).map((t) => ({ [t]: t, nested: [t, 1, { deep: nest(200, "object", t) }] }))],
        is_pinned: [true, false],
        job_id: [crypto.randomUUID(), "not-a-uuid"],
        trace_id: [crypto.randomUUID()]
      }),
      fc.uuid()
    ).map(([input, id]) =>
      // A fresh id for most inputs, so accepted jobs do not collide by accident (some keep a fixed one: AlreadyExists).
      typeof input === "object" && input !== null && !Array.isArray(input) && !("job_id" in input) ? { ...input, job_id: id } : input),
    { numRuns: n, seed: seedFor(`submit-${name}`) }
  )

const eventInputs = (n: number, name: string): Array<unknown> => {
  const valid: Record<string, Array<unknown>> = { message: texts, reason: texts, code: texts.filter((t) => t !== ""), command: texts.filter((t) => t !== "") }
  for (const event of Object.values(validEvents)) for (const [key, value] of Object.entries(event)) (valid[key] ??= []).push(value)
  return fc.sample(
    fc.tuple(fc.constantFrom(...Object.values(validEvents)), fc.uuid(), fc.nat()).chain(([base, id, n]) =>
      mutated({ ...base, event_id: id, ...(n % 3 === 0 && "message" in base ? { message: texts[n % texts.length] } : {}) }, valid)),
    { numRuns: n, seed: seedFor(`record-${name}`) }
  )
}

/** Every stored job, through the store's strict row decoding. */
const allJobs = Effect.gen(function*() {
  const store = yield* JobStore
  const items: Array<AiJob> = []
  let cursor: string | undefined
  do {
    const page = yield* store.listJobs({ limit: 1000, ...(cursor === undefined ? {} : { cursor }) })
    items.push(...page.items)
    cursor = page.next_cursor ?? undefined
  } while (cursor !== undefined)
  return items
})

/** Every stored event, decoded back to typed events by the recorder (a body that does not decode is CorruptRow). */
const allEvents = Effect.gen(function*() {
  const recorder = yield* FlightRecorder.FlightRecorder
  const store = yield* JobStore
  const records: Array<EventRecord> = []
  let decoded = 0
  let cursor: string | undefined
  do {
    const page = yield* store.listEvents({ limit: 1000, ...(cursor === undefined ? {} : { cursor }) })
    records.push(...page.items)
    const typed = yield* recorder.list({ limit: 1000, ...(cursor === undefined ? {} : { cursor }) })
    decoded += typed.items.length
    cursor = page.next_cursor ?? undefined
  } while (cursor !== undefined)
  return { records, decoded }
})

const SUBMIT_REFUSALS = new Set(["DecodeFailure", "EscalationDenied", "CapabilityDenied", "UnknownProfile", "AlreadyExists"])
const RECORD_REFUSALS = new Set(["InvalidEvent", "EventTooLarge", "AlreadyExists"])

for (const backend of [sqlite, pg]) {
  describe(`reliability: hostile writes on ${backend.name}`, () => {
    it.live(`R5 R10 R14 ${counts.writeInputs} fuzzed submits and records on ${backend.name} store only valid rows, each read back as it was returned`, () =>
      Effect.gen(function*() {
        const { layer, query } = yield* backend.open
        const context = yield* Layer.build(services(layer))
        const jobs = Context.get(context, Jobs)
        const recorder = Context.get(context, FlightRecorder.FlightRecorder)
        const outcomes: Record<string, number> = {}
        const accepted = new Map<string, AiJob>()
        const storageErrors: Array<string> = []
        for (const input of submitInputs(counts.writeInputs, backend.name)) {
          const exit = yield* Effect.exit(jobs.submitUntrusted(input))
          const tag = tagOf(exit)
          outcomes[`submit ${tag}`] = (outcomes[`submit ${tag}`] ?? 0) + 1
          if (Exit.isSuccess(exit)) accepted.set(exit.value.job_id, exit.value)
          else if (tag === "StorageError") storageErrors.push(`submit: ${String(Cause.squash(exit.cause))}`)
          else assert.isTrue(SUBMIT_REFUSALS.has(tag), `submit answered ${tag}`)
        }
        const recorded: Array<EventRecord> = []
        for (const input of eventInputs(counts.writeInputs, backend.name)) {
          const exit = yield* Effect.exit(recorder.recordUntrusted(input))
          const tag = tagOf(exit)
          outcomes[`record ${tag}`] = (outcomes[`record ${tag}`] ?? 0) + 1
          if (Exit.isSuccess(exit)) recorded.push(exit.value)
          else if (tag === "StorageError") storageErrors.push(`record: ${String(Cause.squash(exit.cause))}`)
          else assert.isTrue(RECORD_REFUSALS.has(tag), `record answered ${tag}`)
        }

        // Read everything back: the store decodes each row strictly; a bad row fails the listing.
        const stored = yield* allJobs.pipe(Effect.provide(context))
        assert.strictEqual(stored.length, accepted.size, "exactly the accepted jobs are stored")
        for (const job of stored) {
          const returned = accepted.get(job.job_id)
          assert.isDefined(returned, `job ${job.job_id} stored but never accepted`)
          assert.deepStrictEqual(encodeJob(job), encodeJob(returned!), `job ${job.job_id} reads back as it was returned`)
        }
        const { decoded, records } = yield* allEvents.pipe(Effect.provide(context))
        assert.strictEqual(decoded, records.length, "every stored event decodes")
        const byId = new Map(records.map((record) => [record.event_id, record]))
        for (const record of recorded) assert.deepStrictEqual(byId.get(record.event_id)?.body, record.body, `event ${record.event_id} reads back as recorded`)

        // The raw tables agree: nothing stored beside the accepted rows.
        const [jobCount] = yield* Effect.promise(() => query({ pg: "SELECT count(*) AS n FROM ai_jobs", sqlite: "SELECT count(*) AS n FROM ai_jobs" }, []))
        assert.strictEqual(Number(jobCount?.["n"]), accepted.size)
        const submitEvents = records.filter((r) => r.type === "system" || (r.type === "capability_action" && r.job_id !== null && accepted.has(r.job_id)))
        report(`fuzz-writes-${backend.name}`, {
          seed,
          submits: counts.writeInputs,
          records: counts.writeInputs,
          jobsStored: stored.length,
          eventsStored: records.length,
          eventsOfStoredJobs: submitEvents.length,
          rowsReadBack: stored.length + records.length,
          outcomes,
          storageErrors: storageErrors.length
        })
        assert.deepStrictEqual(storageErrors.slice(0, 5), [], `${storageErrors.length} valid inputs could not be stored`)
        assert.isAbove(accepted.size, 0)
        assert.isAbove(recorded.length, 0)
      }).pipe(Effect.scoped), 300_000)

    it.live(`R5 R10 R17 SQL-injection strings are stored verbatim on ${backend.name} and never executed`, () =>
      Effect.gen(function*() {
        const { layer, query } = yield* backend.open
        const context = yield* Layer.build(services(layer))
        const jobs = Context.get(context, Jobs)
        const store = Context.get(context, JobStore)
        const recorder = Context.get(context, FlightRecorder.FlightRecorder)
        for (const text of injections) {
          const job = yield* jobs.submitUntrusted({
            ...newJobBase,
            protocol_id: text,
            profile_id: text,
            status_reason: text,
            entity_refs: [{ entity_id: text, entity_kind: text }],
            planned_operations: [{ op_type: "write", target: { entity_id: text, entity_kind: text }, description: text }],
            job_inputs: { [text]: text }
          })
          const back = yield* store.getJob(job.job_id)
          assert.strictEqual(back.protocol_id, text)
          assert.strictEqual(back.profile_id, text)
          assert.strictEqual(back.status_reason, text)
          assert.deepStrictEqual(back.entity_refs, [{ entity_id: text, entity_kind: text }])
          assert.strictEqual(back.planned_operations[0]?.description, text)
          assert.deepStrictEqual(back.job_inputs, { [text]: text })
          const raw = yield* Effect.promise(() => query(
            { pg: "SELECT protocol_id, profile_id FROM ai_jobs WHERE id = $1", sqlite: "SELECT protocol_id, profile_id FROM ai_jobs WHERE id = ?" },
            [job.job_id]
          ))
          assert.deepStrictEqual(raw.map((r) => [r["protocol_id"], r["profile_id"]]), [[text, text]], "the raw column holds the text verbatim")
          const event = yield* recorder.recordUntrusted({ ...validEvents.diagnostic, event_id: crypto.randomUUID(), diagnostic_id: text, source: text, model_id: text })
          const listed = (yield* store.listEvents({ event_id: event.event_id })).items
          assert.strictEqual(listed[0]?.body["source"], text)
          assert.strictEqual(listed[0]?.body["diagnostic_id"], text)
        }
        // Every table is still there, with what we put in it.
        for (const table of TABLES) {
          const rows = yield* Effect.promise(() => query(
            { pg: "SELECT to_regclass($1)::text AS t", sqlite: "SELECT name AS t FROM sqlite_master WHERE type = 'table' AND name = ?" },
            [table]
          ))
          assert.strictEqual(rows[0]?.["t"], table, `table ${table} still exists`)
        }
        const [jobCount] = yield* Effect.promise(() => query({ pg: "SELECT count(*) AS n FROM ai_jobs", sqlite: "SELECT count(*) AS n FROM ai_jobs" }, []))
        assert.strictEqual(Number(jobCount?.["n"]), injections.length)
        report(`injection-${backend.name}`, { strings: injections.length, jobs: injections.length, events: injections.length })
      }).pipe(Effect.scoped), 120_000)

    it.live(`R5 R14 strings with lone UTF-16 surrogates or U+0000 are stored and read back unchanged on ${backend.name}, or refused as bad input (DecodeFailure) like on the other dialect`, () =>
      Effect.gen(function*() {
        const { layer } = yield* backend.open
        const context = yield* Layer.build(services(layer))
        const jobs = Context.get(context, Jobs)
        const store = Context.get(context, JobStore)
        const changed: Array<string> = []
        for (const text of [...surrogates, "\u0000", "a\u0000b"]) {
          const exit = yield* Effect.exit(jobs.submitUntrusted({ ...newJobBase, protocol_id: text, job_inputs: { text } }))
          const tag = tagOf(exit)
          if (!Exit.isSuccess(exit)) {
            if (tag !== "DecodeFailure") changed.push(`${JSON.stringify(text)} refused with ${tag.slice(0, 120)}: ${String(Cause.squash(exit.cause)).slice(0, 160)}`)
            continue
          }
          const back = yield* store.getJob(exit.value.job_id)
          if (back.protocol_id !== text) changed.push(`${JSON.stringify(text)} came back as protocol_id ${JSON.stringify(back.protocol_id)}`)
          if ((back.job_inputs as { text?: unknown } | null)?.text !== text) changed.push(`${JSON.stringify(text)} came back in job_inputs as ${JSON.stringify(back.job_inputs)}`)
        }
        assert.deepStrictEqual(changed, [], "stored text must round-trip exactly (or be refused)")
      }).pipe(Effect.scoped), 60_000)

    it.live(`R15 Jobs.submit refuses a profile_id its audit event cannot carry (empty, or larger than the event bound) with a typed error, on ${backend.name}`, () =>
      Effect.gen(function*() {
        const { layer } = yield* backend.open
        const context = yield* Layer.build(services(layer))
        const jobs = Context.get(context, Jobs)
        const store = Context.get(context, JobStore)
        const answers: Array<string> = []
        for (const profile of ["", "p".repeat(70_000)]) {
          // Valid NewAiJob input (profile_id is any string), but the capability_action event needs a non-empty actor_id within 64 KiB.
          const exit = yield* Effect.exit(jobs.submitUntrusted({ ...newJobBase, profile_id: profile }))
          answers.push(`${profile.length} chars: ${tagOf(exit).slice(0, 140)}`)
        }
        assert.deepStrictEqual(answers, ["0 chars: DecodeFailure", "70000 chars: DecodeFailure"], "refused as bad input, not a defect from Jobs.submit's orDie on prepare")
        assert.strictEqual((yield* store.listJobs()).items.length, 0)
      }).pipe(Effect.scoped), 60_000)

    it.live(`R10 FlightRecorder.record refuses an event whose type is the JSON object {"toString":1} with InvalidEvent and stores nothing, on ${backend.name}`, () =>
      Effect.gen(function*() {
        const { layer } = yield* backend.open
        const context = yield* Layer.build(services(layer))
        const recorder = Context.get(context, FlightRecorder.FlightRecorder)
        const store = Context.get(context, JobStore)
        // JSON.parse, as an API would receive it: no exotic object needed.
        const event = JSON.parse(JSON.stringify({ ...validEvents.system, event_id: crypto.randomUUID(), type: { toString: 1 } })) as unknown
        const exit = yield* Effect.exit(recorder.recordUntrusted(event))
        assert.strictEqual(tagOf(exit), "InvalidEvent", "a typed refusal, not a defect from Schema.Union's discriminator (String(input.type) throws)")
        assert.strictEqual((yield* store.listEvents()).items.length, 0)
      }).pipe(Effect.scoped), 60_000)
  })
}
