/**
 * @effect/sql's SqlPersistedQueue doing the nearest equivalent of our
 * lifecycle: offer → take → complete (completion is written when the take's
 * handler succeeds), with `workers` concurrent fibers.
 */
import * as PersistedQueue from "@effect/experimental/PersistedQueue"
import * as SqlPersistedQueue from "@effect/sql/SqlPersistedQueue"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { repeatedlyEffect, throughputEffect } from "../harness.js"

/**
 * A SQLite client for the queue's file with `PRAGMA synchronous` set for
 * `durability`, as our store sets it (left alone, better-sqlite3 runs a WAL
 * file at NORMAL).
 */
export const sqliteClient = (filename: string, durability: "full" | "normal") =>
  Layer.effectDiscard(
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`PRAGMA synchronous = ${durability === "full" ? "FULL" : "NORMAL"}`))
  ).pipe(Layer.provideMerge(SqliteClient.layer({ filename })))

/**
 * The queue factory over a SQL client. The poll interval is lowered from its
 * 1 s default: the poller sleeps that long whenever a poll comes back empty,
 * which under concurrent takers would measure the sleep, not the database.
 */
export const layer: Layer.Layer<PersistedQueue.PersistedQueueFactory, SqlError, SqlClient.SqlClient> =
  PersistedQueue.layer.pipe(Layer.provide(SqlPersistedQueue.layerStore({ pollInterval: "5 millis" })))

const Payload = Schema.Struct({ doc: Schema.String })

/** The benchmark's queue. */
export const makeQueue = PersistedQueue.make({ name: "bench", schema: Payload })

/** One lifecycle: offer an item, take one (completion is written when the handler succeeds). */
export const queueCycle = (queue: Effect.Effect.Success<typeof makeQueue>) =>
  Effect.zipRight(queue.offer({ doc: "bench" }), queue.take(() => Effect.void))

/** Lifecycles per second with `workers` concurrent fibers for `durationMs`. */
export const queueThroughput = (workers: number, durationMs: number) =>
  Effect.flatMap(makeQueue, (queue) => throughputEffect(workers, durationMs, () => queueCycle(queue)))

/** `total` lifecycles shared by `workers` concurrent fibers, not measured (the lifecycle section's warm-up). */
export const queueRepeatedly = (workers: number, total: number) =>
  Effect.flatMap(makeQueue, (queue) => repeatedlyEffect(workers, total, () => queueCycle(queue)))
