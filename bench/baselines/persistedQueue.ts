/**
 * @effect/sql's SqlPersistedQueue doing the nearest equivalent of our
 * lifecycle: offer → take → complete (completion is written when the take's
 * handler succeeds), with `workers` concurrent fibers.
 */
import * as PersistedQueue from "@effect/experimental/PersistedQueue"
import * as SqlPersistedQueue from "@effect/sql/SqlPersistedQueue"
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { throughputEffect } from "../harness.js"

/**
 * The queue factory over a SQL client. The poll interval is lowered from its
 * 1 s default: the poller sleeps that long whenever a poll comes back empty,
 * which under concurrent takers would measure the sleep, not the database.
 */
export const layer: Layer.Layer<PersistedQueue.PersistedQueueFactory, SqlError, SqlClient.SqlClient> =
  PersistedQueue.layer.pipe(Layer.provide(SqlPersistedQueue.layerStore({ pollInterval: "5 millis" })))

const Payload = Schema.Struct({ doc: Schema.String })

/** Lifecycles per second with `workers` concurrent fibers for `durationMs`. */
export const queueThroughput = (workers: number, durationMs: number) =>
  Effect.gen(function*() {
    const queue = yield* PersistedQueue.make({ name: "bench", schema: Payload })
    return yield* throughputEffect(workers, durationMs, () =>
      Effect.zipRight(queue.offer({ doc: "bench" }), queue.take(() => Effect.void)))
  })
