/**
 * R16 / R16a on PostgreSQL: a database written by the reference
 * implementation upgrades in place through the same migrations a fresh one
 * takes. The database's TimeZone is set to America/New_York before anything
 * connects, so a conversion that leaned on the session zone would show.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import { JobId, WorkflowRunId } from "../../src/domain/Ids.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import {
  buildLegacyDatabase,
  expectedInstants,
  expectedMetrics,
  legacyCounts,
  legacyIds,
  staleScan
} from "../fixtures/legacyPg.js"
import { describeWithLayer } from "../support/describeWithLayer.js"
import { connectPg, freshPgDatabase } from "../support/pg-database.js"
import { staleBefore } from "./fixtures.js"
import { expectLegacyInstants, insertLegacyInstantCases } from "./legacy-instants.js"
import * as RunPointers from "./legacy-run-pointers.js"
import { expectValuesAtTheLimits, unreadableLegacyCases, valuesAtTheLimits } from "./legacy-row-rules.js"
import { shippedPgMigrationIds } from "./pg-support.js"

const ZONE = "America/New_York"

/** A fresh database whose sessions all default to New York time; dropped with the scope. */
const databaseInNewYork = (label: string) =>
  Effect.tap(freshPgDatabase(label), (url) =>
    Effect.promise(async () => {
      const client = await connectPg(url)
      try {
        const name = decodeURIComponent(new URL(url).pathname.slice(1))
        await client.query(`ALTER DATABASE "${name}" SET timezone TO '${ZONE}'`)
      } finally {
        await client.end()
      }
    }))

/** A plain client on `url`, for building legacy tables and reading behind the store's back. */
const rawClient = (url: string) => PgClient.layer({ url: Redacted.make(url), transformJson: false })

/** A store on `url` that does not migrate on its own. */
const storeOn = (url: string) => PgStore.layer({ url, migrate: false })

/** The upgraded legacy database the tests share, and what was in it before. */
class Legacy extends Context.Tag("test/Legacy")<Legacy, {
  readonly url: string
  readonly countsBefore: Record<string, number>
  readonly applied: ReadonlyArray<readonly [number, string]>
  readonly sessionZone: string
}>() {}

const countRows = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const counts: Record<string, number> = {}
  for (const table of ["ai_jobs", "workflow_runs", "workflow_node_executions"]) {
    const [row] = yield* sql<{ readonly n: string }>`SELECT count(*) AS n FROM ${sql(table)}`
    counts[table] = Number(row?.n)
  }
  return counts
})

const LegacyLive = Layer.scoped(
  Legacy,
  Effect.gen(function*() {
    const url = yield* databaseInNewYork("pg legacy")
    return yield* Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* buildLegacyDatabase
      const countsBefore = yield* countRows
      const [zone] = yield* sql<{ readonly zone: string }>`SELECT current_setting('TimeZone') AS zone`
      const applied = yield* PgStore.migrate
      return { url, countsBefore, applied, sessionZone: zone?.zone ?? "" }
    }).pipe(Effect.provide(rawClient(url)))
  })
)

/** Runs `body` with a raw client and a (non-migrating) store on the shared legacy database. */
const onLegacy = <A, E>(body: Effect.Effect<A, E, SqlClient.SqlClient | JobStore | Legacy>) =>
  Effect.flatMap(Legacy, ({ url }) => Effect.provide(body, Layer.merge(rawClient(url), storeOn(url))))

/** Every row of the three tables as JSON text: for "nothing changed" comparisons. */
const snapshot = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const [row] = yield* sql<{ readonly jobs: string; readonly runs: string; readonly nodes: string }>`
    SELECT
      (SELECT json_agg(j ORDER BY j.id)::text FROM ai_jobs j) AS jobs,
      (SELECT json_agg(r ORDER BY r.id)::text FROM workflow_runs r) AS runs,
      (SELECT json_agg(n ORDER BY n.id)::text FROM workflow_node_executions n) AS nodes`
  return row
})

/** Column name → "type NULL|NOT NULL default" of the three job tables, plus every constraint's definition. */
const schemaShape = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const columns = yield* sql<{ readonly col: string; readonly shape: string }>`
    SELECT table_name || '.' || column_name AS col,
      data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '-') AS shape
    FROM information_schema.columns
    WHERE table_schema = 'public' AND table_name IN ('ai_jobs', 'workflow_runs', 'workflow_node_executions')
    ORDER BY 1`
  const constraints = yield* sql<{ readonly name: string; readonly def: string }>`
    SELECT conrelid::regclass::text || '.' || conname AS name, pg_get_constraintdef(oid) AS def
    FROM pg_constraint
    WHERE conrelid IN ('ai_jobs'::regclass, 'workflow_runs'::regclass, 'workflow_node_executions'::regclass)
    ORDER BY 1`
  const indexes = yield* sql<{ readonly name: string }>`
    SELECT indexname AS name FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1`
  return {
    columns: Object.fromEntries(columns.map((c) => [c.col, c.shape])),
    constraints: Object.fromEntries(constraints.map((c) => [c.name, c.def])),
    indexes: indexes.map((i) => i.name)
  }
})

const millis = (instant: DateTime.DateTime): number => DateTime.toEpochMillis(instant)

describeWithLayer("R16 PostgreSQL legacy upgrade in place", LegacyLive, { timeout: 60_000 }, (it) => {
  it.effect("R16a the upgrade runs with the session TimeZone set away from UTC and applies all migrations", () =>
    Effect.gen(function*() {
      const legacy = yield* Legacy
      assert.strictEqual(legacy.sessionZone, ZONE, "the migrating session really is on New York time")
      assert.deepStrictEqual(legacy.applied.map(([id]) => id), shippedPgMigrationIds)
    }))

  it.effect("R16a row counts are unchanged by the upgrade", () =>
    onLegacy(Effect.gen(function*() {
      const legacy = yield* Legacy
      assert.deepStrictEqual(legacy.countsBefore, legacyCounts, "the fixture built what it says")
      assert.deepStrictEqual(yield* countRows, legacyCounts)
    })))

  it.effect("R16 no legacy kind string is stranded: term_exec and doc_test are renamed", () =>
    onLegacy(Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const [stranded] = yield* sql<{ readonly n: string }>`
        SELECT count(*) AS n FROM ai_jobs WHERE job_kind IN ('term_exec', 'doc_test', 'governance_pack_export')`
      assert.strictEqual(stranded?.n, "0")
      const store = yield* JobStore
      assert.strictEqual((yield* store.getJob(JobId.make(legacyIds.termExecJob))).job_kind, "terminal_exec")
      assert.strictEqual((yield* store.getJob(JobId.make(legacyIds.docTestJob))).job_kind, "doc_summarize")
    })))

  it.effect("R16 governance_pack_export becomes workflow_run with protocol hsk.governance_pack.export.v0, inputs kept", () =>
    onLegacy(Effect.gen(function*() {
      const job = yield* (yield* JobStore).getJob(JobId.make(legacyIds.governanceJob))
      assert.strictEqual(job.job_kind, "workflow_run")
      assert.strictEqual(job.protocol_id, "hsk.governance_pack.export.v0")
      assert.deepStrictEqual(job.job_inputs, { pack: "gov-1", options: { include: ["a", "b"] } })
      assert.strictEqual(job.state, "completed")
    })))

  it.effect("R4 R16 NULL and empty metrics become the zero object; partial and null-field metrics are filled with 0", () =>
    onLegacy(Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* JobStore
      const metricsOf = (id: string) =>
        Effect.map(store.getJob(JobId.make(id)), (job) => ({ ...job.metrics }))
      assert.deepStrictEqual(yield* metricsOf(legacyIds.termExecJob), expectedMetrics.zero, "NULL")
      assert.deepStrictEqual(yield* metricsOf(legacyIds.docTestJob), expectedMetrics.zero, "empty string")
      assert.deepStrictEqual(
        yield* metricsOf(legacyIds.governanceJob),
        { ...expectedMetrics.zero, ...expectedMetrics.governancePartial },
        "partial"
      )
      assert.deepStrictEqual(
        yield* metricsOf(legacyIds.pinnedJob),
        { ...expectedMetrics.zero, ...expectedMetrics.pinnedPartial },
        "a null counter"
      )
      assert.deepStrictEqual(yield* metricsOf(legacyIds.freshRunJob), expectedMetrics.full, "complete metrics untouched")
      // Stored, not just decoded: all nine keys are in every row.
      const [incomplete] = yield* sql<{ readonly n: string }>`
        SELECT count(*) AS n FROM ai_jobs
        WHERE NOT metrics ?& ARRAY['duration_ms', 'total_tokens', 'input_tokens', 'output_tokens', 'tokens_planner',
          'tokens_executor', 'entities_read', 'entities_written', 'validators_run_count']`
      assert.strictEqual(incomplete?.n, "0")
    })))

  it.effect("R16a NULL arrays become [], JSON null payloads become NULL, is_pinned becomes a boolean", () =>
    onLegacy(Effect.gen(function*() {
      const store = yield* JobStore
      const pinned = yield* store.getJob(JobId.make(legacyIds.pinnedJob))
      assert.deepStrictEqual(pinned.entity_refs, [])
      assert.deepStrictEqual(pinned.planned_operations, [])
      assert.isTrue(pinned.is_pinned)
      assert.isNull(pinned.job_outputs)
      assert.deepStrictEqual(pinned.job_inputs, { doc: "x" })
      const planned = yield* store.getJob(JobId.make(legacyIds.staleOffsetRunJob))
      assert.isFalse(planned.is_pinned, "a NULL is_pinned is not pinned")
      assert.deepStrictEqual(planned.entity_refs, [{ entity_id: "doc-1", entity_kind: "document" }])
      assert.deepStrictEqual(planned.planned_operations, [
        { op_type: "read", target: { entity_id: "doc-1", entity_kind: "document" }, description: "read it" }
      ])
      const failed = yield* store.getJob(JobId.make(legacyIds.docTestJob))
      assert.strictEqual(failed.status_reason, "", "a NULL status_reason becomes the empty reason")
      assert.strictEqual(failed.error_message, "legacy failure")
    })))

  it.effect("R16a both legacy timestamp forms convert to the exact UTC instant (session on New York time)", () =>
    onLegacy(Effect.gen(function*() {
      const store = yield* JobStore
      for (const [id, expected] of Object.entries(expectedInstants.jobs)) {
        const job = yield* store.getJob(JobId.make(id))
        assert.deepStrictEqual(
          { created_at: millis(job.created_at), updated_at: millis(job.updated_at) },
          expected,
          `job ${id}`
        )
      }
      for (const [id, heartbeat] of Object.entries(expectedInstants.runs)) {
        const run = yield* store.getRun(WorkflowRunId.make(id))
        assert.strictEqual(millis(run.last_heartbeat), heartbeat, `heartbeat of run ${id}`)
        assert.strictEqual(millis(run.created_at), heartbeat, `created_at of run ${id}`)
      }
      const nodes = yield* store.listNodes(WorkflowRunId.make(legacyIds.doneRun))
      for (const node of nodes) {
        const expected = expectedInstants.nodes[node.id as keyof typeof expectedInstants.nodes]
        assert.deepStrictEqual(
          { started_at: millis(node.started_at), finished_at: node.finished_at === null ? null : millis(node.finished_at) },
          expected,
          `node ${node.id}`
        )
      }
    })))

  it.effect("R16a every legacy row decodes through the store", () =>
    onLegacy(Effect.gen(function*() {
      const store = yield* JobStore
      const page = yield* store.listJobs({ limit: 1000 })
      assert.strictEqual(page.items.length, legacyCounts.ai_jobs)
      let runs = 0
      let nodes = 0
      for (const job of page.items) {
        const jobRuns = yield* store.listRuns(job.job_id)
        runs += jobRuns.length
        for (const run of jobRuns) nodes += (yield* store.listNodes(run.id)).length
      }
      assert.deepStrictEqual({ runs, nodes }, { runs: legacyCounts.workflow_runs, nodes: legacyCounts.workflow_node_executions })
      const nodeList = yield* store.listNodes(WorkflowRunId.make(legacyIds.doneRun))
      assert.deepStrictEqual(nodeList.map((n) => [n.sequence, n.node_id, n.status]), [[0, "plan", "completed"], [1, "exec", "running"]])
      assert.deepStrictEqual(nodeList[0]?.input_payload, { prompt: "list files" })
      assert.deepStrictEqual(nodeList[0]?.output_payload, { plan: ["ls"] })
      assert.strictEqual<string | null>(
        (yield* store.getJob(JobId.make(legacyIds.termExecJob))).workflow_run_id,
        legacyIds.doneRun,
        "the run pointer survives the uuid conversion"
      )
    })))

  it.effect("R9 R16a findStaleRuns orders heartbeats of both legacy forms by instant, where text comparison fails", () =>
    onLegacy(Effect.gen(function*() {
      // The fixture's premise: compared as text, the two forms give the wrong answer.
      const textStale = Object.entries(staleScan.heartbeatText)
        .filter(([id, text]) => id !== legacyIds.doneRun && text < staleScan.cutoffText)
        .map(([id]) => id)
      assert.sameMembers(
        textStale,
        [legacyIds.freshRun, legacyIds.staleSpaceRun, legacyIds.staleZuluRun],
        "as text, the fresh run looks stale and the +02:00 one fresh"
      )

      yield* TestClock.setTime(staleScan.now)
      const store = yield* JobStore
      const stale = yield* store.findStaleRuns({ heartbeatBefore: yield* staleBefore(staleScan.olderThanMs) })
      assert.deepStrictEqual(stale.map((run): string => run.id), [...staleScan.staleOldestFirst])
    })))

  it.effect("R16 the upgraded database takes new work: a legacy failed job is retried and claimed", () =>
    onLegacy(Effect.gen(function*() {
      const store = yield* JobStore
      const id = JobId.make(legacyIds.docTestJob)
      const outcome = yield* store.transaction(Effect.gen(function*() {
        const retried = yield* store.transition({ job_id: id, from: "failed", to: "queued" })
        assert.strictEqual(retried.state, "queued")
        const claim = yield* store.claimNext({ kinds: ["doc_summarize"] })
        assert.strictEqual(claim?.job.job_id, id)
        assert.strictEqual(claim?.job.workflow_run_id, claim?.run.id)
        // Leave the shared database as it was.
        return yield* Effect.fail("rollback" as const)
      })).pipe(Effect.flip)
      assert.strictEqual(outcome, "rollback")
      assert.strictEqual((yield* store.getJob(id)).state, "failed")
    })))

  it.effect("R16 migrating the upgraded database again applies nothing and changes nothing", () =>
    onLegacy(Effect.gen(function*() {
      const before = yield* snapshot
      assert.deepStrictEqual(yield* PgStore.migrate, [])
      assert.deepStrictEqual(yield* snapshot, before)
    })))

  it.effect("R16a a fresh database and an upgraded legacy one end with the same schema", () =>
    Effect.gen(function*() {
      const legacy = yield* Effect.provide(schemaShape, rawClient((yield* Legacy).url))
      const fresh = yield* Effect.gen(function*() {
        const url = yield* databaseInNewYork("pg legacy fresh")
        return yield* Effect.provide(Effect.zipRight(PgStore.migrate, schemaShape), rawClient(url))
      }).pipe(Effect.scoped)
      assert.deepStrictEqual(legacy.columns, fresh.columns)
      assert.deepStrictEqual(legacy.constraints, fresh.constraints)
      // The legacy database also keeps its own plain index; ours are all there in both.
      assert.includeMembers(legacy.indexes, fresh.indexes)
      assert.deepStrictEqual(legacy.indexes.filter((name) => !fresh.indexes.includes(name)), ["idx_ai_jobs_status"])
    }))
})

describe("R16 PostgreSQL legacy timestamps finer than a millisecond", () => {
  it.scoped("R16 issue 12 a legacy fraction finer than a millisecond is cut, as on SQLite: .123999 is .123, .999999999 stays in its second", () =>
    Effect.gen(function*() {
      const url = yield* databaseInNewYork("pg legacy instants")
      yield* Effect.provide(
        Effect.zipRight(Effect.zipRight(buildLegacyDatabase, insertLegacyInstantCases), PgStore.migrate),
        rawClient(url)
      )
      yield* Effect.provide(expectLegacyInstants, storeOn(url))
    }), 60_000)
})

/** A legacy database with `change` (SQL text, or an effect on it) applied, then upgraded: its URL. */
const upgradedAfter = (label: string, change: string | Effect.Effect<unknown, unknown, SqlClient.SqlClient>) =>
  Effect.tap(databaseInNewYork(label), (url) =>
    Effect.provide(
      Effect.gen(function*() {
        yield* buildLegacyDatabase
        yield* typeof change === "string" ? (yield* SqlClient.SqlClient).unsafe(change) : change
        yield* PgStore.migrate
      }),
      rawClient(url)
    ))

describe("R16a PostgreSQL legacy references the reference schema leaves unchecked", () => {
  /** Builds the legacy database with `tweak`, upgrades it, then runs `expect` on a store over it. */
  const upgradedWith = <A, E>(label: string, tweak: Effect.Effect<unknown, unknown, SqlClient.SqlClient>, expect: Effect.Effect<A, E, JobStore>) =>
    Effect.flatMap(upgradedAfter(label, tweak), (url) => Effect.provide(expect, storeOn(url)))

  it.scoped("R16a a job whose run pointer names no run upgrades with it cleared, the rest of the row intact, and a system event of the job says so", () =>
    upgradedWith("pg legacy dangling", RunPointers.insertDanglingTwin(legacyIds.pinnedJob), RunPointers.expectClearedTwin(legacyIds.pinnedJob)), 60_000)

  // The job resumed is a doc_summarize one: the fixture's terminal_exec job holds a profile (Analyst)
  // wider than its kind's, which the capability policy refuses to resume (EscalationDenied).
  const crossed: RunPointers.RunningPair = {
    job: legacyIds.staleOffsetRunJob,
    run: legacyIds.staleOffsetRun,
    other: legacyIds.staleZuluRunJob,
    otherRun: legacyIds.staleZuluRun,
    allStaleAt: staleScan.now
  }
  const crossedPointers = RunPointers.crossAndOrphanPointers(crossed)
  it.scoped("R16a R9 a running job whose run pointer names another job's run, or no run, ends the upgrade under its own running run or stalled, each with a system event; recovery stalls each job with its own run once, recorded; both resume", () =>
    upgradedWith("pg legacy crossed", crossedPointers.tweak, RunPointers.expectRunningPointersSettled(crossed, crossedPointers)), 60_000)

  for (const [what, empty] of [["NULL", RunPointers.emptyPointers(crossed)], ["''", RunPointers.emptyPointers(crossed, "")]] as const) {
    it.scoped(`R16a R9 a running job whose run pointer was empty (${what}) all along ends the upgrade under its one running run, or stalled when it has no run, each with a system event carrying its attempt; recovery stalls the first with its run once, recorded; both resume`, () =>
      upgradedWith("pg legacy empty pointer", empty.tweak, RunPointers.expectRunningPointersSettled(crossed, empty)), 60_000)
  }

  const ended = RunPointers.endedOwnPointers(crossed)
  it.scoped("R16a R9 a running job whose run pointer names a run of its own that had ended ends the upgrade under its one running run, or stalled when none runs, each with a system event carrying its attempt; recovery stalls the first with its run once, recorded; both resume", () =>
    upgradedWith("pg legacy ended own run", ended.tweak, RunPointers.expectRunningPointersSettled(crossed, ended)), 60_000)

  it.scoped("R16a R9 a running job whose run pointer names no run and which has two running runs of its own is stalled by the upgrade, no run guessed; recovery stalls its runs alone; it resumes", () =>
    upgradedWith("pg legacy ambiguous", RunPointers.orphanWithTwoRunningRuns(crossed), RunPointers.expectAmbiguousTwinStalled(crossed)), 60_000)

  it.scoped("R16a R9 a running job whose run pointer was empty all along and which has two running runs of its own is stalled by the upgrade, no run guessed; recovery stalls its runs alone; it resumes", () =>
    upgradedWith("pg legacy ambiguous empty", RunPointers.orphanWithTwoRunningRuns(crossed, null), RunPointers.expectAmbiguousTwinStalled(crossed)), 60_000)

  const own = { job: legacyIds.termExecJob, run: legacyIds.doneRun }
  for (const [what, tweak] of RunPointers.caseOnlyTweaks(own)) {
    it.scoped(`R16a ${what} differing in case alone still names its row: the upgrade keeps it, as on SQLite`, () =>
      upgradedWith("pg legacy case", tweak, RunPointers.expectOwnRunKept(own)), 60_000)
  }
})

describe("R16a PostgreSQL legacy values at the domain's limits", () => {
  it.scoped("R16a a legacy job with job_inputs nested 64 deep, a duration of 2^53 - 1 and a null metric upgrades, reads back as written, and lists", () =>
    Effect.gen(function*() {
      const url = yield* upgradedAfter("pg legacy limits", valuesAtTheLimits(legacyIds.pinnedJob))
      yield* Effect.provide(expectValuesAtTheLimits(legacyIds.pinnedJob), storeOn(url))
    }), 60_000)

  it.scoped("R16a a legacy ai_jobs without the JSON columns some reference versions lacked is checked by the columns it has, and upgrades", () =>
    Effect.gen(function*() {
      const url = yield* upgradedAfter(
        "pg legacy fewer columns",
        "ALTER TABLE ai_jobs DROP COLUMN entity_refs, DROP COLUMN planned_operations, DROP COLUMN metrics, DROP COLUMN job_inputs, DROP COLUMN job_outputs"
      )
      const job = yield* Effect.provide(Effect.flatMap(JobStore, (store) => store.getJob(JobId.make(legacyIds.pinnedJob))), storeOn(url))
      assert.deepStrictEqual([job.entity_refs, job.planned_operations, job.job_inputs, job.metrics.duration_ms], [[], [], null, 0])
    }), 60_000)
})

const orphanRun = "5c2e9d41-7a6b-4c3d-8e2f-0000000000ff"
const missingJob = "0b1f7c52-3f1e-4a8e-9b7a-000000000bad"
const missingRun = "5c2e9d41-7a6b-4c3d-8e2f-000000000bad"

describe("R16 PostgreSQL legacy values that cannot be converted", () => {
  const cases: ReadonlyArray<readonly [string, string, RegExp]> = [
    ["an unparseable timestamp", `UPDATE ai_jobs SET created_at = 'yesterday' WHERE id = '${legacyIds.pinnedJob}'`, /ai_jobs\.created_at/],
    ["an impossible date", `UPDATE workflow_runs SET last_heartbeat = '2024-02-30 10:00:00' WHERE id = '${legacyIds.freshRun}'`, /out of range/],
    ["an unknown job kind", `UPDATE ai_jobs SET job_kind = 'frobnicate' WHERE id = '${legacyIds.pinnedJob}'`, /ai_jobs_job_kind_check/],
    ["a non-uuid id", `UPDATE workflow_node_executions SET id = 'node-1' WHERE id = '${legacyIds.secondNode}'`, /uuid/],
    // A value the domain could not read back is refused before 0002, naming the row, as on SQLite (legacy-row-rules.ts).
    [
      "a fractional counter",
      `UPDATE ai_jobs SET metrics = '{"total_tokens": 1.5}' WHERE id = '${legacyIds.pinnedJob}'`,
      new RegExp(`ai_jobs row "${legacyIds.pinnedJob}", column metrics: total_tokens: Expected an integer between 0 and 4294967295`)
    ],
    // The reference's own schema has no foreign keys here (the fixture's are dropped): named by their ids.
    [
      "a run naming no job",
      `ALTER TABLE workflow_runs DROP CONSTRAINT workflow_runs_job_id_fkey;
        INSERT INTO workflow_runs (id, job_id, status) VALUES ('${orphanRun}', '${missingJob}', 'completed')`,
      new RegExp(`workflow run "${orphanRun}" names job "${missingJob}", which is not in ai_jobs`)
    ],
    [
      "a node execution naming no run",
      `ALTER TABLE workflow_node_executions DROP CONSTRAINT workflow_node_executions_workflow_run_id_fkey;
        UPDATE workflow_node_executions SET workflow_run_id = '${missingRun}' WHERE id = '${legacyIds.secondNode}'`,
      new RegExp(`node execution "${legacyIds.secondNode}" names workflow run "${missingRun}", which is not in workflow_runs`)
    ],
    // The fixture's UNIQUE (workflow_run_id, sequence) is the fixture's: the reference's own schema has none.
    ...unreadableLegacyCases({ job: legacyIds.pinnedJob, node: legacyIds.firstNode, sibling: legacyIds.secondNode, siblingSequence: 1 }).map(
      ({ corrupt, expected, what }) => [
        what,
        `ALTER TABLE workflow_node_executions DROP CONSTRAINT workflow_node_executions_workflow_run_id_sequence_key; ${corrupt}`,
        new RegExp(expected.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      ] as const
    )
  ]
  for (const [what, corrupt, mentions] of cases) {
    it.scoped(`R16 ${what} fails the upgrade loudly (MigrationFailed, migration 2) and leaves the legacy database as it was`, () =>
      Effect.gen(function*() {
        const url = yield* databaseInNewYork("pg legacy bad")
        yield* Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* buildLegacyDatabase
          // The legacy CHECK would refuse an unknown kind; the reference's data is what it is.
          yield* sql`ALTER TABLE ai_jobs DROP CONSTRAINT ai_jobs_job_kind_check`
          yield* sql.unsafe(corrupt)
          const before = yield* snapshot
          const error = yield* Effect.flip(PgStore.migrate)
          if (error._tag !== "MigrationFailed") return assert.fail(`expected MigrationFailed, got ${error.message}`)
          assert.strictEqual(error.migration_id, 2)
          assert.strictEqual(error.migration_name, "current_schema")
          assert.match(error.message, mentions)
          // All-or-nothing: no migration recorded, the legacy rows and types untouched.
          const [table] = yield* sql<{ readonly t: string | null }>`SELECT to_regclass('ai_job_model_migrations')::text AS t`
          assert.isNull(table?.t, "not even the migrations table is left behind")
          assert.deepStrictEqual(yield* snapshot, before)
          const [type] = yield* sql<{ readonly t: string }>`
            SELECT data_type AS t FROM information_schema.columns WHERE table_name = 'ai_jobs' AND column_name = 'created_at'`
          assert.strictEqual(type?.t, "text")
        }).pipe(Effect.provide(rawClient(url)))
      }), 60_000)
  }
})

// The reference's own migration 0014 adds a table pointing at ai_jobs (found by an outside probe): its text
// foreign key blocked 0002's change of ai_jobs.id to uuid ("foreign key constraint
// ai_job_mcp_fields_job_id_fkey cannot be implemented"), so such a database could not be upgraded at all.
describe("R16 PostgreSQL legacy upgrade with a table of the reference's we do not own", () => {
  it.scoped("R16 a table referencing ai_jobs keeps every row and its foreign key, its column converted to uuid alike", () =>
    Effect.gen(function*() {
      const url = yield* databaseInNewYork("pg legacy mcp")
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* buildLegacyDatabase
        yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS ai_job_mcp_fields (
          job_id TEXT PRIMARY KEY NOT NULL REFERENCES ai_jobs(id) ON DELETE CASCADE,
          mcp_server_id TEXT, mcp_call_id TEXT, mcp_progress_token TEXT)`)
        yield* sql.unsafe("CREATE UNIQUE INDEX IF NOT EXISTS idx_ai_job_mcp_fields_progress_token ON ai_job_mcp_fields(mcp_progress_token)")
        yield* sql.unsafe("INSERT INTO ai_job_mcp_fields (job_id, mcp_server_id) SELECT id, 'server-' || id FROM ai_jobs")
        const rows = sql<{ readonly job_id: string; readonly mcp_server_id: string }>`
          SELECT job_id::text AS job_id, mcp_server_id FROM ai_job_mcp_fields ORDER BY job_id::text`
        const before = yield* rows
        assert.strictEqual(before.length, legacyCounts.ai_jobs)
        assert.isAbove((yield* PgStore.migrate).length, 0)
        assert.deepStrictEqual(yield* rows, before, "every row kept")
        const [fk] = yield* sql<{ readonly def: string }>`
          SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = 'ai_job_mcp_fields_job_id_fkey'`
        assert.strictEqual(fk?.def, "FOREIGN KEY (job_id) REFERENCES ai_jobs(id) ON DELETE CASCADE")
        const [type] = yield* sql<{ readonly t: string }>`
          SELECT data_type AS t FROM information_schema.columns WHERE table_name = 'ai_job_mcp_fields' AND column_name = 'job_id'`
        assert.strictEqual(type?.t, "uuid")
        // It still follows its job: a deleted job takes its row with it.
        yield* sql.unsafe(`DELETE FROM ai_jobs WHERE id = '${legacyIds.pinnedJob}'`)
        const [left] = yield* sql<{ readonly n: string }>`SELECT count(*) AS n FROM ai_job_mcp_fields`
        assert.strictEqual(Number(left?.n), legacyCounts.ai_jobs - 1)
      }).pipe(Effect.provide(rawClient(url)))
    }), 60_000)
})
