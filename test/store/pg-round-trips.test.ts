/**
 * Issue 16 (PostgreSQL hot path): the round trips and commits of one job's
 * lifecycle on PostgreSQL — `Jobs.submit` → `Jobs.claimNext` →
 * `JobStore.heartbeat` → `Jobs.complete`, every audit event written
 * (capability decision, queued, running, completed).
 *
 * Every query the `pg` driver sends is recorded (its `Client.prototype.query`
 * is wrapped: the real driver against the real test server, nothing mocked),
 * step by step. A commit is a `COMMIT`, or a statement sent outside
 * `BEGIN … COMMIT` that writes (PostgreSQL commits it on its own); it is
 * durable unless the statement turned `synchronous_commit` off for itself.
 * The counts are pinned: a change that adds a round trip to a step fails here.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import { createRequire } from "node:module"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { services } from "../jobs/services.js"
import { freshPgDatabase } from "../support/pg-database.js"
import { createClaimedCall, newJob } from "./fixtures.js"

type Query = (this: object, ...args: Array<unknown>) => unknown
const pg = createRequire(import.meta.url)("pg") as { readonly Client: { readonly prototype: { query: Query } } }

/** What one round trip was. */
type Kind = "begin" | "commit" | "rollback" | "savepoint" | "statement"

interface Trip {
  readonly kind: Kind
  readonly text: string
  /** Sent inside `BEGIN … COMMIT` on its connection. */
  readonly inTransaction: boolean
}

const kindOf = (text: string): Kind => {
  const head = text.trimStart().slice(0, 20).toUpperCase()
  if (head.startsWith("BEGIN")) return "begin"
  if (head.startsWith("COMMIT")) return "commit"
  if (head.startsWith("ROLLBACK TO")) return "savepoint"
  if (head.startsWith("ROLLBACK")) return "rollback"
  if (head.startsWith("SAVEPOINT")) return "savepoint"
  return "statement"
}

/** Whether a statement can change rows (a plain SELECT commits nothing worth a flush). */
const writes = (text: string): boolean => /\b(INSERT|UPDATE|DELETE)\b/i.test(text)

/** Runs `effect` while recording every query `pg` sends, with whether its connection was in a transaction. */
const recordingQueries = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const proto = pg.Client.prototype
      const original = proto.query
      const open = new WeakSet<object>()
      const trips: Array<Trip> = []
      proto.query = function(this: object, ...args: Array<unknown>) {
        const [config] = args
        const text = typeof config === "string" ? config : String((config as { readonly text?: unknown } | null)?.text ?? "")
        const kind = kindOf(text)
        trips.push({ kind, text, inTransaction: open.has(this) })
        if (kind === "begin") open.add(this)
        if (kind === "commit" || kind === "rollback") open.delete(this)
        return original.apply(this, args)
      }
      return { proto, original, trips }
    }),
    ({ trips }) => Effect.map(effect, (value) => ({ value, trips })),
    ({ original, proto }) => Effect.sync(() => {
      proto.query = original
    })
  )

interface Counts {
  readonly roundTrips: number
  readonly begins: number
  readonly commits: number
  readonly savepoints: number
  readonly statements: number
  readonly durableCommits: number
}

const countsOf = (trips: ReadonlyArray<Trip>): Counts => {
  const autocommits = trips.filter((trip) => trip.kind === "statement" && !trip.inTransaction && writes(trip.text))
  const explicit = trips.filter((trip) => trip.kind === "commit").length
  const asynchronous = autocommits.filter((trip) => /synchronous_commit/i.test(trip.text)).length
  return {
    roundTrips: trips.length,
    begins: trips.filter((trip) => trip.kind === "begin").length,
    commits: explicit + autocommits.length,
    savepoints: trips.filter((trip) => trip.kind === "savepoint").length,
    statements: trips.filter((trip) => trip.kind === "statement").length,
    durableCommits: explicit + autocommits.length - asynchronous
  }
}

const describeCounts = (step: string, counts: Counts) =>
  `${step}: ${counts.roundTrips} round trips (${counts.begins} BEGIN, ${counts.commits} commits of which ` +
  `${counts.durableCommits} durable, ${counts.savepoints} SAVEPOINT, ${counts.statements} statements)`

const JOBS = 10

describe("issue 16 PostgreSQL lifecycle round trips", () => {
  it.scoped(
    "issue 16 one job's lifecycle on PostgreSQL (submit, claim, heartbeat, complete, every audit event) takes 4 round trips and 3 durable commits, no savepoint",
    () =>
      Effect.gen(function*() {
        const url = yield* freshPgDatabase("round trips")
        const context = yield* Layer.build(services(PgStore.layer({ url })))
        const steps: Record<"submit" | "claim" | "heartbeat" | "complete", Array<Trip>> = {
          submit: [],
          claim: [],
          heartbeat: [],
          complete: []
        }
        const step = <A, E>(name: keyof typeof steps, effect: Effect.Effect<A, E>) =>
          Effect.map(recordingQueries(effect), ({ trips, value }) => {
            steps[name].push(...trips)
            return value
          })
        let firstClaim: ReadonlyArray<Trip> = []
        yield* Effect.gen(function*() {
          const jobs = yield* Jobs
          const store = yield* JobStore
          // The first claim of a subject (kind, protocol, profiles) meets the policy first: one
          // statement finds the job's subject not yet admitted and claims nothing, the next claims it.
          yield* jobs.submit(newJob())
          const first = yield* recordingQueries(jobs.claimNext())
          assert.isNotNull(first.value)
          firstClaim = first.trips
          yield* jobs.complete(first.value!.job.job_id)
          for (let i = 0; i < JOBS; i++) {
            const job = yield* step("submit", jobs.submit(newJob()))
            const claim = yield* step("claim", jobs.claimNext())
            assert.isNotNull(claim)
            if (claim === null) return
            assert.strictEqual(claim.job.job_id, job.job_id)
            yield* step("heartbeat", store.heartbeat(claim.run.id))
            const done = yield* step("complete", jobs.complete(claim.job.job_id))
            assert.strictEqual(done.state, "completed")
            // Every audit event was written: the capability decision at submit and again at the
            // claim, and the lifecycle events queued, running, completed.
            const events = yield* store.listEvents({ job_id: job.job_id })
            assert.deepStrictEqual(
              events.items.map((event) => event.type).sort(),
              ["capability_action", "capability_action", "system", "system", "system"]
            )
            assert.strictEqual((yield* store.getRun(claim.run.id)).status, "completed")
          }
        }).pipe(Effect.provide(context))

        const perJob = (trips: ReadonlyArray<Trip>): Counts => {
          const counts = countsOf(trips)
          return {
            roundTrips: counts.roundTrips / JOBS,
            begins: counts.begins / JOBS,
            commits: counts.commits / JOBS,
            savepoints: counts.savepoints / JOBS,
            statements: counts.statements / JOBS,
            durableCommits: counts.durableCommits / JOBS
          }
        }
        const all = perJob(Object.values(steps).flat())
        const report = [
          ...Object.entries(steps).map(([name, trips]) => describeCounts(name, perJob(trips))),
          describeCounts("lifecycle", all)
        ].join("\n")
        // Printed for the benchmark analysis (round trips and commits per job on PostgreSQL).
        console.info(`issue 16 PostgreSQL lifecycle, per job:\n${report}`)
        // Pinned: submit 1 (one statement: the job and its events), claim 1 (one statement: the
        // job locked, its run created, the job moved and its records written, JobStore.claimAdmitted;
        // it was 4 — BEGIN, the claim, its records, COMMIT — before), heartbeat 1 (its commit not
        // waited for), complete 1 (one statement: the job moved, its run ended and its event
        // written, JobStore.finishRunningJob).
        assert.deepStrictEqual(
          Object.fromEntries(Object.entries(steps).map(([name, trips]) => [name, perJob(trips).roundTrips])),
          { submit: 1, claim: 1, heartbeat: 1, complete: 1 },
          report
        )
        assert.strictEqual(all.savepoints, 0, report)
        assert.strictEqual(all.commits, 4, report)
        assert.strictEqual(all.durableCommits, 3, report)
        // The first claim of a new Jobs also looks for runs offered to workers (one read, no
        // transaction), as it does once a second after (TestClock here: never again).
        assert.deepStrictEqual(countsOf(firstClaim), {
          roundTrips: 3,
          begins: 0,
          commits: 2,
          savepoints: 0,
          statements: 3,
          durableCommits: 2
        }, "a new subject's first claim: 2 statements, and the look for offers")
      }),
    120_000
  )

  it.scoped(
    "issue 16 a worker's settle on PostgreSQL (Jobs.run ending its run with outputs and duration) is one statement and one commit, no transaction",
    () =>
      Effect.gen(function*() {
        const url = yield* freshPgDatabase("settle round trips")
        const context = yield* Layer.build(services(PgStore.layer({ url })))
        yield* Effect.gen(function*() {
          const jobs = yield* Jobs
          const store = yield* JobStore
          for (let i = 0; i < JOBS; i++) {
            yield* jobs.submit(newJob())
            const claim = yield* jobs.claimNext()
            if (claim === null) return assert.fail("setup: a claim")
            const { trips, value } = yield* recordingQueries(
              jobs.run(claim.job.job_id, () => Effect.succeed({ answer: i }), { heartbeatInterval: "1 hour" })
            )
            assert.deepStrictEqual(value, { answer: i })
            // Jobs.run reads its job and run first (plain reads), and beats at once — whether that beat is
            // sent before the program ends is the scheduler's: leave both out; what is left is the settle.
            const settle = trips.filter((trip) => !/last_heartbeat/.test(trip.text) && !(trip.kind === "statement" && !writes(trip.text)))
            const counts = countsOf(settle)
            assert.deepStrictEqual(
              [counts.roundTrips, counts.begins, counts.commits, counts.durableCommits],
              [1, 0, 1, 1],
              describeCounts("settle", counts)
            )
            const job = yield* store.getJob(claim.job.job_id)
            assert.deepStrictEqual([job.state, job.job_outputs], ["completed", { answer: i }])
            assert.strictEqual((yield* store.getRun(claim.run.id)).status, "completed")
          }
        }).pipe(Effect.provide(context))
      }),
    120_000
  )

  it.scoped(
    "issue 16 eager dispatch on PostgreSQL: createClaimed is one statement and one durable commit, no BEGIN — claimed, or left queued behind an older job",
    () =>
      Effect.gen(function*() {
        const url = yield* freshPgDatabase("create claimed round trips")
        const context = yield* Layer.build(PgStore.layer({ url }))
        yield* Effect.gen(function*() {
          const store = yield* JobStore
          const createClaimed = store.createClaimed
          if (createClaimed === undefined) return assert.fail("the store has createClaimed")
          /** One createClaimed of a fresh job with two records for its creation and two for its claim; its round trips. */
          const submitted = Effect.suspend(() => recordingQueries(createClaimed(...createClaimedCall())))
          const one = { roundTrips: 1, begins: 0, commits: 1, savepoints: 0, statements: 1, durableCommits: 1 }
          for (let i = 0; i < JOBS; i++) {
            const { trips, value } = yield* submitted
            assert.isNotNull(value.claim, "claimed: the queue is empty")
            assert.deepStrictEqual(countsOf(trips), one, describeCounts("claimed", countsOf(trips)))
          }
          yield* store.createJob(newJob())
          // Later than the older job on the clock: the queue's order then does not fall to the ids (a random v4 id may sort before the store's v7 one).
          yield* TestClock.adjust(1)
          const { trips, value } = yield* submitted
          assert.isNull(value.claim, "an older job comes first")
          assert.deepStrictEqual(countsOf(trips), one, describeCounts("left queued", countsOf(trips)))
        }).pipe(Effect.provide(context))
      }),
    120_000
  )

  it.scoped(
    "issue 16 a heartbeat's unwaited commit is its own: the connection's next transactions commit synchronously again",
    () =>
      Effect.gen(function*() {
        const url = yield* freshPgDatabase("unwaited heartbeat")
        // One connection, so the heartbeat and the SHOW below share a session.
        const client = PgClient.layer({ url: Redacted.make(url), maxConnections: 1, transformJson: false })
        const context = yield* Layer.build(PgStore.layerFromClient().pipe(Layer.provideMerge(client)))
        yield* Effect.gen(function*() {
          const store = yield* JobStore
          const sql = yield* SqlClient.SqlClient
          // The test cluster runs without synchronous commits; this session asks for them.
          yield* sql`SET synchronous_commit = on`
          yield* store.createJob(newJob())
          const claim = yield* store.claimNext()
          if (claim === null) return assert.fail("setup: a claim")
          const beat = yield* store.heartbeat(claim.run.id)
          assert.strictEqual(beat.id, claim.run.id)
          const [setting] = yield* sql<{ readonly synchronous_commit: string }>`SHOW synchronous_commit`
          assert.strictEqual(setting?.synchronous_commit, "on")
        }).pipe(Effect.provide(context))
      }),
    60_000
  )
})
