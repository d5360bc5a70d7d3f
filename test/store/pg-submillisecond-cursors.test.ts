/**
 * R5 R10 keyset paging on PostgreSQL over rows stored with microseconds
 * (found by two outside probes). `timestamptz` keeps them — a job's
 * `created_at` written by raw SQL or another service with now(), an event
 * stored before migration 0019 refused them — and the driver reads a `Date`,
 * cut to the millisecond. The cursor carried that cut instant, which sorts
 * before its own row: oldest first with limit 1 gave the same row on every
 * page for ever, newest first skipped rows. The cursor now carries the row's
 * instant to the microsecond, read exactly from the database.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { JobStore, type Page } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { connectPg, freshPgDatabase, type PgClient } from "../support/pg-database.js"
import { eventRecord, newJob } from "./fixtures.js"
import { named, planModes, planOf, sentStatements, tableScans } from "./pg-plans.js"

/** Every item of a listing paged `limit` at a time from the first page, stopping after `most` pages. */
const pagedIds = <A>(
  list: (cursor: string | undefined) => Effect.Effect<Page<A>, unknown>,
  idOf: (item: A) => string,
  most: number
) =>
  Effect.gen(function*() {
    const ids: Array<string> = []
    let cursor: string | undefined
    for (let page = 0; page < most; page++) {
      const { items, next_cursor } = yield* list(cursor)
      ids.push(...items.map(idOf))
      if (next_cursor === null) return { ids, ended: true }
      cursor = next_cursor
    }
    return { ids, ended: false }
  })

/** One millisecond's instants, with microseconds past it (a whole one among them). */
const ONE_MILLISECOND = ["2026-12-01T10:00:00.123000Z", "2026-12-01T10:00:00.123100Z", "2026-12-01T10:00:00.123400Z", "2026-12-01T10:00:00.123700Z"]

/** The 0019 check as a database upgraded from before it has it: not judged on the rows it found. */
const legacyEvents = (raw: PgClient, insert: string) =>
  Effect.promise(() =>
    raw.query(`BEGIN;
      ALTER TABLE flight_recorder_events DROP CONSTRAINT flight_recorder_events_timestamp_valid;
      ${insert};
      ALTER TABLE flight_recorder_events ADD CONSTRAINT flight_recorder_events_timestamp_valid CHECK (
        "timestamp" >= '1970-01-01T00:00:00Z' AND "timestamp" < '10000-01-01T00:00:00Z'
        AND date_trunc('milliseconds', "timestamp" AT TIME ZONE 'UTC') = "timestamp" AT TIME ZONE 'UTC') NOT VALID;
      COMMIT`)
  )

describe("PostgreSQL keyset cursors over instants with microseconds", () => {
  it.scoped("R5 R10 jobs and events of one millisecond with microseconds, paged by 1 in both orders: each exactly once, in order, and the paging ends (DateStyle 'SQL, DMY', TimeZone Pacific/Chatham)", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("sub-ms cursors")
      const raw: PgClient = yield* Effect.acquireRelease(Effect.promise(() => connectPg(url)), (client) => Effect.promise(() => client.end()))
      yield* Effect.promise(() =>
        raw.query(`DO $$ BEGIN
          EXECUTE format('ALTER DATABASE %I SET DateStyle = %L', current_database(), 'SQL, DMY');
          EXECUTE format('ALTER DATABASE %I SET TimeZone = %L', current_database(), 'Pacific/Chatham');
        END $$`)
      )
      const store = yield* Effect.provide(JobStore, yield* Layer.build(PgStore.layer({ url })))

      for (let i = 0; i < ONE_MILLISECOND.length; i++) yield* store.createJob(newJob())
      // As another service writes them: instants in one millisecond, not in id order.
      yield* Effect.promise(() =>
        raw.query(`UPDATE ai_jobs j SET created_at = t.at FROM (
            SELECT id, (ARRAY['${ONE_MILLISECOND.join("','")}']::timestamptz[])[row_number() OVER (ORDER BY id DESC)] AS at FROM ai_jobs
          ) t WHERE t.id = j.id`)
      )
      yield* store.appendEvents([eventRecord()])
      yield* legacyEvents(raw, `
        INSERT INTO flight_recorder_events (event_id, "timestamp", actor, type, trace_id, job_id, workflow_run_id, body)
        SELECT e, t, actor, type, trace_id, job_id, workflow_run_id,
               body || jsonb_build_object('event_id', e::text, 'timestamp', to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
        FROM (SELECT gen_random_uuid() AS e, t, actor, type, trace_id, job_id, workflow_run_id, body
              FROM flight_recorder_events, unnest(ARRAY['${ONE_MILLISECOND.slice(1).join("','")}']::timestamptz[]) AS t) copies`)

      for (const order of ["asc", "desc"] as const) {
        const jobsInOrder = (yield* store.listJobs({ order, limit: 100 })).items.map((job) => job.job_id)
        const exact = (yield* Effect.promise(() =>
          raw.query<{ readonly id: string }>(`SELECT id FROM ai_jobs ORDER BY created_at ${order}, id ${order}`)
        )).rows.map((row) => row.id)
        assert.deepStrictEqual(jobsInOrder, exact, `one page of jobs, ${order}`)
        const jobs = yield* pagedIds((cursor) => store.listJobs({ limit: 1, ...(cursor === undefined ? { order } : { cursor }) }), (job) => job.job_id, 10)
        assert.deepStrictEqual(jobs, { ids: exact, ended: true }, `jobs by 1, ${order}`)

        const eventsInOrder = (yield* Effect.promise(() =>
          raw.query<{ readonly event_id: string }>(`SELECT event_id FROM flight_recorder_events ORDER BY "timestamp" ${order}, event_id ${order}`)
        )).rows.map((row) => row.event_id)
        assert.strictEqual(eventsInOrder.length, ONE_MILLISECOND.length)
        const events = yield* pagedIds((cursor) => store.listEvents({ limit: 1, ...(cursor === undefined ? { order } : { cursor }) }), (event) => event.event_id, 10)
        assert.deepStrictEqual(events, { ids: eventsInOrder, ended: true }, `events by 1, ${order}`)
      }
    }), 60_000)

  it.scoped("R5 R10 a cursor of a row with microseconds still reads through the listing's index, and a cursor of the millisecond form handed out before continues after its key", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("sub-ms cursor plans")
      const raw: PgClient = yield* Effect.acquireRelease(Effect.promise(() => connectPg(url)), (client) => Effect.promise(() => client.end()))
      const store = yield* Effect.provide(JobStore, yield* Layer.build(PgStore.layer({ url })))
      yield* Effect.promise(() => raw.query(`
        INSERT INTO ai_jobs (id, trace_id, job_kind, status, protocol_id, profile_id, capability_profile_id,
                             access_mode, safety_mode, created_at, updated_at)
        SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, gen_random_uuid(), 'doc_summarize', 'queued',
               'p', 'u', 'Analyst', 'analysis_only', 'normal', timestamptz '2026-01-01' + i * interval '300 microseconds', timestamptz '2026-01-01'
        FROM generate_series(1, 4000) AS i`))
      yield* legacyEvents(raw, `
        INSERT INTO flight_recorder_events (event_id, "timestamp", actor, type, trace_id, job_id, workflow_run_id, body)
        SELECT gen_random_uuid(), timestamptz '2026-01-01' + i * interval '300 microseconds', 'system', 'system', gen_random_uuid(), NULL, NULL, '{}'::jsonb
        FROM generate_series(1, 4000) AS i`)
      yield* Effect.promise(() => raw.query("ANALYZE"))

      for (const order of ["asc", "desc"] as const) {
        const jobsCursor = (yield* store.listJobs({ order, limit: 7 })).next_cursor!
        const eventsCursor = (yield* store.listEvents({ order, limit: 7 })).next_cursor!
        const [jobs] = named((yield* sentStatements(store.listJobs({ cursor: jobsCursor, limit: 10 }))).sent, /FROM ai_jobs/)
        const [events] = named((yield* sentStatements(store.listEvents({ cursor: eventsCursor, limit: 10 }))).sent, /FROM flight_recorder_events/)
        for (const mode of planModes) {
          const jobsPlan = yield* planOf(raw, jobs!, mode)
          assert.deepStrictEqual(tableScans(jobsPlan), [`Index Scan${order === "desc" ? " Backward" : ""} using ai_jobs_created_idx on ai_jobs`], `jobs ${order}, ${mode}\n${jobsPlan}`)
          const eventsPlan = yield* planOf(raw, events!, mode)
          assert.deepStrictEqual(
            tableScans(eventsPlan),
            [`Index Scan${order === "desc" ? " Backward" : ""} using flight_recorder_events_time_idx on flight_recorder_events`],
            `events ${order}, ${mode}\n${eventsPlan}`
          )
        }
      }

      // A cursor handed out before, of a whole-millisecond row: the 10th job, at 3.000 ms.
      const tenth = "00000000-0000-7000-8000-00000000000a"
      const before = Buffer.from(JSON.stringify(["jobs", "asc", "2026-01-01T00:00:00.003Z", tenth]), "utf8").toString("base64url")
      const after = yield* store.listJobs({ cursor: before, limit: 2 })
      assert.deepStrictEqual(after.items.map((job) => job.job_id), ["00000000-0000-7000-8000-00000000000b", "00000000-0000-7000-8000-00000000000c"])
    }), 60_000)
})
