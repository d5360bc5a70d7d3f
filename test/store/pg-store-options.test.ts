/**
 * The PostgreSQL store's pool options past their types (R17: bad input gets a
 * clear, typed error): a `maxConnections` that is NaN (an unset environment
 * variable read through `Number`) made `pg`'s pool unbounded, and 0 or 2.5 one
 * it cannot size; a timeout of zero — "off" in PostgreSQL's own settings —
 * timed every connection or statement out after a millisecond; an unreadable
 * one was a defect; a negative one, as a text or a pair, read as zero; a
 * misspelt option was dropped, its default standing in. Each now fails the
 * layer with a `StorageError` naming the option, before any connection is
 * tried (the URL here reaches no server).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as PgClient from "@effect/sql-pg/PgClient"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { freshPgDatabase } from "../support/pg-database.js"
import { newJob } from "./fixtures.js"

const nowhere = "postgres://127.0.0.1:1/none"

describe("PgStore.layer options", () => {
  it.effect("R17 a maxConnections, connectTimeout or statementTimeout no pool can use fails the layer with a StorageError naming it", () =>
    Effect.gen(function*() {
      const bad: ReadonlyArray<readonly [Partial<PgStore.PgStoreOptions>, string]> = [
        [{ maxConnections: Number.NaN }, "maxConnections"],
        [{ maxConnections: 0 }, "maxConnections"],
        [{ maxConnections: 2.5 }, "maxConnections"],
        [{ maxConnections: -4 }, "maxConnections"],
        [{ connectTimeout: 0 }, "connectTimeout"],
        [{ connectTimeout: "soon" as never }, "connectTimeout"],
        [{ statementTimeout: "0 seconds" }, "statementTimeout"],
        [{ statementTimeout: Number.NaN }, "statementTimeout"],
        [{ statementTimeout: -5 }, "statementTimeout"],
        // Effect's parser reads a negative text or pair as zero.
        [{ statementTimeout: "-60 seconds" }, "statementTimeout"],
        [{ connectTimeout: [-10, 0] }, "connectTimeout"],
        // A misspelt option was dropped and its default stood in: `readonyl` migrated and wrote.
        [{ readonyl: true } as never, "readonyl"],
        [{ preparedStatments: false } as never, "preparedStatments"],
        // A switch as text (an environment variable's): "true" was read as false, so the store migrated and wrote.
        [{ readonly: "true" } as never, "readonly"],
        [{ migrate: "no" } as never, "migrate"],
        [{ coalesce: 0 } as never, "coalesce"],
        [{ preparedStatements: "false" } as never, "preparedStatements"]
      ]
      for (const [options, name] of bad) {
        const exit = yield* Effect.exit(Effect.scoped(Layer.build(PgStore.layer({ url: nowhere, ...options }))))
        const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
        assert.strictEqual(error?._tag, "StorageError", `${JSON.stringify(options)}: ${String(exit)}`)
        const text = String((error as { cause?: { cause?: unknown } } | undefined)?.cause?.cause)
        assert.include(text, name, JSON.stringify(options))
        assert.notInclude(text, "ECONNREFUSED", "refused before any connection is tried")
      }
    }))

  it.effect("R17 layerFromClient refuses a switch that is not true or false with a StorageError naming it", () =>
    Effect.gen(function*() {
      const layer = PgStore.layerFromClient({ readonly: "true" } as never).pipe(Layer.provide(Layer.succeed(PgClient.PgClient, {} as never)))
      const exit = yield* Effect.exit(Effect.scoped(Layer.build(layer)))
      const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
      assert.strictEqual(error?._tag, "StorageError", String(exit))
      assert.include(String((error as { message?: string } | undefined)?.message), "readonly must be true or false")
    }))

  it.scoped("R17 a connectTimeout or statementTimeout past Node's longest timer (about 24.8 days) is honoured as that long, not as 1 ms", () =>
    Effect.gen(function*() {
      // 30 days was handed to pg as is: Node fires a timer past 2^31-1 ms after 1 ms, and PostgreSQL refuses a
      // statement_timeout that large, so the store could not open. It now waits the longest a timer can.
      const url = yield* freshPgDatabase("long timeouts")
      const context = yield* Layer.build(PgStore.layer({ url, connectTimeout: "30 days", statementTimeout: "30 days" }))
      const store = Context.get(context, JobStore)
      const job = yield* store.createJob(newJob())
      assert.strictEqual((yield* store.getJob(job.job_id)).job_id, job.job_id)
    }), 60_000)

  it.effect("R17 layerFromClient refuses an option it does not name with a StorageError naming it", () =>
    Effect.gen(function*() {
      const layer = PgStore.layerFromClient({ readonyl: true } as never).pipe(Layer.provide(Layer.succeed(PgClient.PgClient, {} as never)))
      const exit = yield* Effect.exit(Effect.scoped(Layer.build(layer)))
      const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
      assert.strictEqual(error?._tag, "StorageError", String(exit))
      assert.include(String((error as { message?: string } | undefined)?.message), "readonyl")
    }))
})
