/**
 * Issue 16, stop 78 (PostgreSQL): a claim for some kinds reads only their
 * queues (migration 0027). Before, it walked the one queue index in claim
 * order and stepped over every queued job of the other kinds ahead of its
 * own: a `terminal_exec` worker behind a million queued `doc_summarize`
 * jobs read all of them on every claim and every idle poll
 * (bench/claimOtherKinds.ts). The claim still locks only what it takes,
 * skips a job another holds instead of waiting for it, and keeps the one
 * claim order across kinds (the contract, test/store/contract/workers.ts).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { services } from "../jobs/services.js"
import { connectPg, freshPgDatabase } from "../support/pg-database.js"
import { newJob } from "./fixtures.js"
import { named, planModes, planOf, rowsRead, sentStatements } from "./pg-plans.js"

/** Queued jobs of another kind, eligible at the test clock's instant (the epoch), ahead of the claimed kind's (a higher priority). */
const BACKLOG = 5_000

/** A fresh database with the store and Jobs on it, and a raw client. */
const setup = (label: string) =>
  Effect.gen(function*() {
    const url = yield* freshPgDatabase(label)
    const raw = yield* Effect.acquireRelease(Effect.promise(() => connectPg(url)), (client) => Effect.promise(() => client.end()))
    const context = yield* Layer.build(services(PgStore.layer({ url })))
    const jobs = yield* Effect.provide(Jobs, context)
    const store = yield* Effect.provide(JobStore, context)
    return { url, raw, jobs, store }
  })

/** A job `terminal_exec` a worker for it may run (the default policy's coder). */
const terminalJob = () => newJob({ job_kind: "terminal_exec", capability_profile_id: "Coder" })

describe("issue 16 stop 78: a claim for some kinds reads only their queues (PostgreSQL)", () => {
  it.scoped(
    `issue 16 stop 78 behind ${BACKLOG.toLocaleString("en")} eligible queued jobs of another kind, the claim for terminal_exec and its idle polls (Jobs and the store's) read no row of them: EXPLAIN ANALYZE row counts, custom and generic plans`,
    () =>
      Effect.gen(function*() {
        const { jobs, raw, store } = yield* setup("claim by kind")
        yield* Effect.promise(() =>
          raw.query(`
            INSERT INTO ai_jobs (id, trace_id, job_kind, status, protocol_id, profile_id, capability_profile_id,
                                 access_mode, safety_mode, created_at, updated_at, run_after, priority)
            SELECT gen_random_uuid(), gen_random_uuid(), 'doc_summarize', 'queued', 'p', 'u', 'Analyst',
                   'analysis_only', 'normal', timestamptz 'epoch', timestamptz 'epoch', timestamptz 'epoch', 1
            FROM generate_series(1, ${BACKLOG})`)
        )
        const wanted = yield* store.createJob(terminalJob())
        yield* Effect.promise(() => raw.query("ANALYZE ai_jobs"))
        const kinds = ["terminal_exec"] as const
        const claimed = yield* sentStatements(jobs.claimNext({ kinds }))
        assert.strictEqual(claimed.value?.job.job_id, wanted.job_id)
        const polls = yield* sentStatements(Effect.all([jobs.claimNext({ kinds }), store.claimNext({ kinds })]))
        assert.deepStrictEqual(polls.value, [null, null])
        // Run again, the claim's own statement finds its job taken: it is an idle poll too.
        const statements = [...named(claimed.sent, /SKIP LOCKED/), ...named(polls.sent, /SKIP LOCKED/)]
        // (Jobs also looks for runs offered to workers, with SKIP LOCKED: checked alike.)
        assert.isAtLeast(statements.length, 3, "the claim and two polls")
        for (const mode of planModes) {
          for (const statement of statements) {
            const plan = yield* planOf(raw, statement, mode, true)
            assert.isAtMost(rowsRead(plan, "ai_jobs"), 1, `${mode}: rows of ai_jobs read\n${plan}`)
          }
        }
      }),
    120_000
  )

  it.scoped("issue 16 stop 78 a claim for two kinds skips the job another transaction holds (no wait), takes the next in claim order, and locks only the job it takes: the other kind's next job stays free", () =>
    Effect.gen(function*() {
      const { raw, store, url } = yield* setup("claim by kind locks")
      // In claim order: terminal A1, edit B1, terminal A2, edit B2 (created in that order, one priority).
      const [a1, b1, a2, b2] = yield* Effect.forEach(
        [terminalJob(), newJob({ job_kind: "doc_edit" }), terminalJob(), newJob({ job_kind: "doc_edit" })],
        (job) => store.createJob(job)
      )
      const kinds = ["terminal_exec", "doc_edit"] as const
      const holder = yield* Effect.acquireRelease(Effect.promise(() => connectPg(url)), (client) => Effect.promise(() => client.end()))
      yield* Effect.promise(async () => {
        await holder.query("BEGIN")
        await holder.query("SELECT id FROM ai_jobs WHERE id = $1 FOR UPDATE", [a1!.job_id])
      })
      // A1 is held: the claim does not wait for it, and takes the next job in claim order.
      assert.strictEqual((yield* store.claimNext({ kinds }))?.job.job_id, b1!.job_id)
      yield* Effect.promise(() => holder.query("ROLLBACK"))
      // Inside a transaction kept open, the claim takes A1; what else is locked shows from outside.
      const free = yield* store.transaction(Effect.gen(function*() {
        assert.strictEqual((yield* store.claimNext({ kinds }))?.job.job_id, a1!.job_id)
        return yield* Effect.promise(() =>
          raw.query<{ readonly id: string }>("SELECT id FROM ai_jobs WHERE status = 'queued' FOR UPDATE SKIP LOCKED")
        )
      }))
      assert.deepStrictEqual(free.rows.map((row) => row.id).sort(), [a2!.job_id, b2!.job_id].sort(), "only the job taken was locked")
    }), 60_000)
})
