/**
 * What the deployment-shape tests (pg-search-path-join, pg-read-committed,
 * pg-least-privilege) share: a job request as an application submits it, and
 * statements run as the administrator sets a database up.
 */
import * as Effect from "effect/Effect"
import { connectPg } from "../support/pg-database.js"

/** A submit request as an application makes it. */
export const request = { job_kind: "doc_summarize", protocol_id: "my.summarize.v1", profile_id: "alice", access_mode: "analysis_only", safety_mode: "normal" } as const

/** Runs `statements` in order on a connection of their own to `url`; the last one's rows. */
export const asAdmin = (url: string, ...statements: ReadonlyArray<string>): Effect.Effect<Array<Record<string, unknown>>> =>
  Effect.promise(async () => {
    const client = await connectPg(url)
    try {
      let rows: Array<Record<string, unknown>> = []
      for (const statement of statements) rows = (await client.query(statement)).rows
      return rows
    } finally {
      await client.end()
    }
  })

/** Waits until no job of the database at `url` is queued or running (its workers have settled them all). */
export const untilSettled = (url: string): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (;;) {
      const [row] = yield* asAdmin(url, "SELECT count(*)::int AS n FROM ai_jobs WHERE status IN ('queued', 'running')")
      if (row!["n"] === 0) return
      yield* Effect.sleep("100 millis")
    }
  })
