/**
 * What the deployment-shape tests (pg-search-path-join, pg-read-committed,
 * pg-least-privilege) share: a job request as an application submits it,
 * statements run as the administrator sets a database up, and what a role's
 * statements are refused with.
 */
import * as Effect from "effect/Effect"
import { connectPg, type PgClient } from "../support/pg-database.js"

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

/** Runs `statements` in order on `client`: the message of the first refused (its transaction rolled back), or null. */
export const firstRefusal = async (client: PgClient, statements: ReadonlyArray<string>): Promise<string | null> => {
  try {
    for (const statement of statements) await client.query(statement)
    return null
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {})
    return String((error as Error).message)
  }
}

/** `firstRefusal` on a connection of its own to `url`, as the role the URL names. */
export const refusalAs = (url: string, ...statements: ReadonlyArray<string>): Effect.Effect<string | null> =>
  Effect.promise(async () => {
    const client = await connectPg(url)
    try {
      return await firstRefusal(client, statements)
    } finally {
      await client.end()
    }
  })
