/**
 * R15 under concurrency: claimers race over a queue where rows the policy
 * refuses (written by the reference, never submitted) alternate with rows it
 * admits. Four claimers, each with its own pool (PostgreSQL) or connection
 * (a SQLite file). Every refusal is held open on purpose — a delay between
 * the claim's rollback and the write that fails the job — so another claimer
 * can take the same row in that window. Whatever the interleaving, each
 * refused job ends failed exactly once, with one set of deny events and no
 * run, and each admitted job is claimed exactly once.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Capabilities from "../../src/Capabilities.js"
import type { JobId } from "../../src/domain/Ids.js"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { servicesUnder } from "../jobs/services.js"
import { claimAll } from "../support/drain.js"
import { pgReferenceDatabase, type ReferenceRow, sqliteReferenceDatabase } from "./referenceRows.js"

const CLAIMERS = 4
const ROWS = 40

/** Refused (terminal_exec under Analyst: an escalation) and admitted (doc_summarize under Analyst) rows, alternating. */
const rows: ReadonlyArray<ReferenceRow> = Array.from({ length: ROWS }, (_, i) => ({
  id: crypto.randomUUID(),
  trace_id: crypto.randomUUID(),
  job_kind: i % 2 === 0 ? "terminal_exec" : "doc_summarize",
  status: "queued",
  protocol_id: "hsk.legacy.v1",
  capability_profile_id: "Analyst",
  created_at: `2024-05-01 10:${String(Math.floor(i / 60)).padStart(2, "0")}:${String(i % 60).padStart(2, "0")}`
}))
const refused = rows.filter((row) => row.job_kind === "terminal_exec").map((row) => row.id)
const admitted = rows.filter((row) => row.job_kind === "doc_summarize").map((row) => row.id)

/** The store with every `→ failed` write delayed: the window between a refused claim's rollback and its refusal. */
const widenRefusal = <E>(store: Layer.Layer<JobStore, E>) =>
  Layer.effect(JobStore, Effect.map(JobStore, (real) => ({
    ...real,
    transition: (request: Parameters<typeof real.transition>[0]) =>
      request.to === "failed" ? Effect.zipRight(Effect.sleep("25 millis"), real.transition(request)) : real.transition(request)
  }))).pipe(Layer.provide(store))

const backends = [
  { name: "a SQLite file", database: sqliteReferenceDatabase, store: (filename: string) => SqliteStore.layer({ filename }) },
  { name: "PostgreSQL", database: pgReferenceDatabase, store: (url: string) => PgStore.layer({ url }) }
] as const

describe("capability re-check under concurrent claims", () => {
  for (const backend of backends) {
    it.live(`R15 ${CLAIMERS} claimers over ${ROWS} reference rows on ${backend.name}: each refused job failed once, each admitted one claimed once`, () =>
      Effect.gen(function*() {
        const target = yield* backend.database(rows)
        // The first store upgrades the database; the others open it afterwards.
        const first = yield* Layer.build(servicesUnder(Capabilities.layerDefault, widenRefusal(backend.store(target))))
        const others = yield* Effect.forEach(Array.from({ length: CLAIMERS - 1 }), () =>
          Layer.build(servicesUnder(Capabilities.layerDefault, widenRefusal(backend.store(target)))))

        const claimIds = (jobs: Jobs["Type"]) => Effect.map(claimAll(() => jobs.claimNext()), (claims) => claims.map((claim) => claim.job.job_id))
        const claimed = (yield* Effect.forEach([first, ...others], (context) => claimIds(Context.get(context, Jobs)), { concurrency: "unbounded" })).flat()

        assert.deepStrictEqual([...claimed].sort(), [...admitted].sort(), "every admitted job claimed exactly once, no refused one ever")
        const store = Context.get(first, JobStore)
        for (const id of refused) {
          const job = yield* store.getJob(id as JobId)
          assert.strictEqual(job.state, "failed")
          assert.deepStrictEqual(yield* store.listRuns(job.job_id), [], "a refused job gets no run")
          const events = (yield* store.listEvents({ job_id: job.job_id, limit: 100 })).items
          assert.deepStrictEqual(events.filter((e) => e.type === "system").map((e) => `${e.body.from_state}->${e.body.to_state}`), ["queued->failed"])
          const denials = events.filter((e) => e.type === "capability_action")
          assert.lengthOf(denials, 5, "one deny per excess grant, written once")
          assert.isTrue(denials.every((e) => e.body.decision_outcome === "deny"))
        }
        for (const id of admitted) {
          const events = (yield* store.listEvents({ job_id: id as JobId, limit: 100 })).items
          assert.deepStrictEqual(events.map((e) => e.type), ["capability_action", "system"])
          assert.lengthOf(yield* store.listRuns(id as JobId), 1)
        }
      }).pipe(Effect.scoped), 180_000)
  }
})
