/**
 * Our library as an application composes it (see test/jobs/services.ts):
 * a store for a target database, and Jobs + FlightRecorder + Capabilities
 * over it with startup recovery left to the benchmark.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Capabilities from "../src/Capabilities.js"
import * as FlightRecorder from "../src/FlightRecorder.js"
import * as Jobs from "../src/Jobs.js"
import * as Recovery from "../src/Recovery.js"
import * as WakeUp from "../src/WakeUp.js"
import type { JobStore } from "../src/store/JobStore.js"
import * as PgStore from "../src/store/PgJobStore.js"
import * as SqliteStore from "../src/store/SqliteJobStore.js"
import type { Mode } from "./harness.js"
import type { BenchCluster } from "./postgres.js"

/**
 * A database a benchmark runs against. A SQLite target runs at the store's
 * default durability ("full") unless it names one.
 */
export type Target =
  | { readonly dialect: "sqlite"; readonly filename: string; readonly durability?: SqliteStore.SqliteDurability }
  | { readonly dialect: "pg"; readonly url: string; readonly preparedStatements?: boolean }

/** What every benchmark module gets. */
export interface BenchContext {
  readonly mode: Mode
  readonly log: (message: string) => void
  readonly cluster: BenchCluster
  /** A private directory for SQLite files, removed at the end. */
  readonly tmp: string
}

/** A fresh, empty database of `dialect` named `name`. */
export const freshTarget = async (ctx: BenchContext, dialect: "sqlite" | "pg", name: string): Promise<Target> => {
  if (dialect === "pg") return { dialect, url: await ctx.cluster.createDatabase(name) }
  const filename = path.join(ctx.tmp, `${name}.db`)
  for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(filename + suffix, { force: true })
  return { dialect, filename }
}

/** Our store on a target (migrating it on first use). */
export const storeLayer = (target: Target): Layer.Layer<JobStore, unknown> =>
  target.dialect === "pg"
    ? PgStore.layer({ url: target.url, ...(target.preparedStatements === undefined ? {} : { preparedStatements: target.preparedStatements }) })
    : SqliteStore.layer({ filename: target.filename, ...(target.durability === undefined ? {} : { durability: target.durability }) })

/** The services an application uses, over a store. */
export type Services = Jobs.Jobs | FlightRecorder.FlightRecorder | Capabilities.Capabilities | Recovery.RecoveryGate | WakeUp.WakeUp | JobStore

/** Jobs, FlightRecorder and Capabilities over our store on `target`; no startup recovery; polling unless a wake-up is given. */
export const servicesLayer = (target: Target, wakeUp: Layer.Layer<WakeUp.WakeUp> = WakeUp.layerPollOnly): Layer.Layer<Services, unknown> =>
  Jobs.layer().pipe(
    Layer.provideMerge(Recovery.layerNoStartupRecovery),
    Layer.provideMerge(wakeUp),
    Layer.provideMerge(FlightRecorder.layer()),
    Layer.provideMerge(Capabilities.layerDefault),
    Layer.provideMerge(storeLayer(target))
  )

/** Runs `program` with the services on `target`, then closes them. */
export const withServices = <A, E>(target: Target, program: Effect.Effect<A, E, Services | Scope.Scope>): Promise<A> =>
  Effect.runPromise(Effect.scoped(Effect.provide(program, servicesLayer(target))))

/** Creates the schema on `target` by opening (and closing) our store once. */
export const migrateTarget = (target: Target): Promise<void> =>
  Effect.runPromise(Effect.scoped(Layer.build(storeLayer(target))).pipe(Effect.asVoid))
