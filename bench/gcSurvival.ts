/**
 * How much of a statement's garbage outlives the young generation (issue
 * 16). A scavenge costs in proportion to what survives it, and what survives
 * two is promoted to the old generation, which a major collection then has
 * to mark and sweep. For each system below, `statements` calls one after
 * another under `v8.GCProfiler`, after a warm-up: bytes allocated a call (as
 * bench/allocations.ts counts them), bytes promoted a call (the old
 * generation's growth across each scavenge), scavenges per 1,000 calls and
 * their pause a call.
 *
 * - `pg`: a named UPDATE … RETURNING through a plain `pg.Client`, callback form;
 * - `preparing client`: the same through the store's `preparingClient`
 *   (pg/preparedStatements.ts);
 * - both again with each statement an `Effect.async` in one fiber's loop,
 *   as the store runs its statements;
 * - `store heartbeat`: `JobStore.heartbeat` of one running run;
 * - `lifecycle`: bench/lifecycle.ts's cycle through Jobs (a call is one lifecycle).
 *
 *   npm run bench:build && node .bench-build/bench/gcSurvival.js [statements]
 *
 * Run it compiled: under tsx, tsx's own loader keeps ~1 MB of young objects
 * alive at every scavenge, which swamps what is measured. Not part of `npm run bench`.
 */
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Pg from "pg"
import { Jobs } from "../src/Jobs.js"
import { JobStore } from "../src/store/JobStore.js"
import * as PgStore from "../src/store/PgJobStore.js"
import { preparingClient } from "../src/store/pg/preparedStatements.js"
import { servicesLayer } from "./app.js"
import { NEW_JOB } from "./fixtures.js"
import { heapDuring } from "./heapWindow.js"
import { oneLifecycle } from "./lifecycle.js"
import { startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"

/** `calls` calls of `run` under the GC profiler, per call (scavenges per 1,000). */
const measure = async (calls: number, run: (calls: number) => Promise<void>) => {
  const window = await heapDuring(() => run(calls))
  return {
    allocated: window.allocated / calls,
    promoted: window.promoted / calls,
    scavenges: window.scavenges * 1000 / calls,
    pauseMicros: window.scavengePauseMicros / calls
  }
}

const UPDATE = "UPDATE workflow_runs SET last_heartbeat = $1::timestamptz WHERE id = $2 RETURNING *"

/**
 * The UPDATE on `client`, callback form (as the store's held connections
 * call it): named by pg's own config for a plain client; as a text and
 * values for the preparing client, which names it itself.
 */
const send = (client: Pg.Client, selfNaming: boolean, runId: string, done: (error: Error | null) => void): void => {
  const values = [new Date().toISOString(), runId]
  if (selfNaming) client.query(UPDATE, values, done)
  else client.query({ name: "gc_survival", text: UPDATE, values }, done)
}

/** A loop of `send`, each call from the last one's callback. */
const statementLoop = (client: Pg.Client, selfNaming: boolean, runId: string) => (calls: number) =>
  new Promise<void>((resolve, reject) => {
    let left = calls
    const next = (): void => {
      if (left-- === 0) return resolve()
      send(client, selfNaming, runId, (error) => error === null ? next() : reject(error))
    }
    next()
  })

/** The same loop, each statement an `Effect.async` of the callback form, in one fiber. */
const effectLoop = (client: Pg.Client, selfNaming: boolean, runId: string) => {
  const one = Effect.async<void, Error>((resume) => {
    send(client, selfNaming, runId, (error) => resume(error === null ? Effect.void : Effect.fail(error)))
  })
  return (calls: number) => Effect.runPromise(Effect.repeatN(one, calls - 1))
}

const main = async () => {
  const statements = Number(process.argv[2] ?? 20_000)
  const cluster = await startBenchCluster()
  try {
    const url = await cluster.createDatabase("gc_survival")
    const services = ManagedRuntime.make(servicesLayer({ dialect: "pg", url }))
    const runId = await services.runPromise(Effect.gen(function*() {
      const jobs = yield* Jobs
      yield* jobs.submit(NEW_JOB)
      let claim = yield* jobs.claimNext()
      while (claim === null) claim = yield* jobs.claimNext()
      return claim.run.id
    }))
    const plain = new Pg.Client({ connectionString: url })
    const Preparing = preparingClient(100)
    const preparing = new Preparing({ connectionString: url }) as Pg.Client
    await plain.connect()
    await preparing.connect()
    const store = ManagedRuntime.make(PgStore.layer({ url }))
    const beat = Effect.flatMap(JobStore, (s) => s.heartbeat(runId))
    const systems: ReadonlyArray<{ readonly name: string; readonly calls: number; readonly run: (calls: number) => Promise<void> }> = [
      { name: "pg, named statement", calls: statements, run: statementLoop(plain, false, runId) },
      { name: "preparing client, the same statement", calls: statements, run: statementLoop(preparing, true, runId) },
      { name: "pg, the same, each an Effect.async", calls: statements, run: effectLoop(plain, false, runId) },
      { name: "preparing client, the same, each an Effect.async", calls: statements, run: effectLoop(preparing, true, runId) },
      { name: "store heartbeat", calls: statements, run: (calls) => store.runPromise(Effect.asVoid(Effect.repeatN(beat, calls - 1))) },
      { name: "lifecycle through Jobs", calls: Math.ceil(statements / 8), run: (calls) => services.runPromise(Effect.repeatN(oneLifecycle, calls - 1)) }
    ]
    console.log(`\n## what outlives the young generation, ${statements} statements (a lifecycle: ${Math.ceil(statements / 8)})`)
    console.log("| system | bytes allocated a call | bytes promoted a call | scavenges per 1,000 calls | scavenge pause µs a call |\n|---|---|---|---|---|")
    for (const system of systems) {
      await system.run(Math.ceil(system.calls / 4))
      const s = await measure(system.calls, system.run)
      console.log(`| ${system.name} | ${s.allocated.toFixed(0)} | ${s.promoted.toFixed(0)} | ${s.scavenges.toFixed(1)} | ${s.pauseMicros.toFixed(1)} |`)
    }
    await plain.end()
    await preparing.end()
    await store.dispose()
    await services.dispose()
  } finally {
    await cluster.stop()
  }
}

runMain(main)
