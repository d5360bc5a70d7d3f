/**
 * The one description of a JobStore implementation under test, shared by the
 * store contract, the Flight Recorder contract and the service-level suites
 * (Jobs, Janitor, HTTP API, capabilities), and the two ways a test gets stores
 * from it: one fresh store, or two stores over the same database. The
 * backends themselves (`sqliteMemory`, `sqliteFile`, `postgres(label)`) are in
 * stores.ts.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { JobStore } from "../../src/store/JobStore.js"

/** The JobStore service itself. */
export type Store = Context.Tag.Service<JobStore>

/** A JobStore implementation under test. */
export interface Backend {
  /** Shown as the suite's `describe` name. */
  readonly name: string
  /** The dialect the store must report. */
  readonly dialect: "sqlite" | "pg"
  /**
   * Run the tests concurrently. Each test has its own database and TestClock,
   * so this only trades setup latency (a PostgreSQL CREATE DATABASE and its
   * migrations take about a second) for wall time.
   */
  readonly concurrent?: boolean
  /** A fresh, migrated, empty store, its database removed with the layer. Called once per test. */
  readonly makeStore: () => Layer.Layer<JobStore, unknown>
  /**
   * A fresh store and a raw SQL client on the same database, to look behind
   * the store's back: a client of its own where the database can have one,
   * the store's own client in memory.
   */
  readonly makeStoreWithSql: () => Layer.Layer<JobStore | SqlClient.SqlClient, unknown>
  /**
   * Two stores over one fresh database, each with its own connections (two
   * pools, two SQLite clients). Omitted where that is impossible (SQLite in
   * memory): concurrency tests then race two fibers on one store.
   */
  readonly makeTwoStores?: () => Effect.Effect<
    readonly [Context.Context<JobStore>, Context.Context<JobStore>],
    unknown,
    Scope.Scope
  >
}

/** Defines a test that runs `body` against a fresh store of `backend`. */
export const storeTest = (backend: Backend) =>
<A, E>(name: string, body: () => Effect.Effect<A, E, JobStore>, timeout?: number): void =>
  it.effect(name, () => Effect.provide(body(), backend.makeStore()), timeout)

/**
 * Runs `body` with two stores over the same database: separate connections
 * when the backend can make them, else the same store twice (two fibers on
 * one connection still race through the store's own serialisation).
 */
export const withTwoStores = <A, E>(
  backend: Backend,
  body: (a: Store, b: Store) => Effect.Effect<A, E>
): Effect.Effect<A, unknown> => {
  const makeTwoStores = backend.makeTwoStores
  if (makeTwoStores === undefined) {
    return Effect.provide(Effect.flatMap(JobStore, (store) => body(store, store)), backend.makeStore())
  }
  return Effect.scoped(
    Effect.flatMap(makeTwoStores(), ([a, b]) => body(Context.get(a, JobStore), Context.get(b, JobStore)))
  )
}
