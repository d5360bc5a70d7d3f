/**
 * R5 a cursor is only the text a page of the same store gives. PostgreSQL's
 * cursors carry the microseconds past a row's millisecond (cursor.ts); a
 * SQLite store's instants are whole milliseconds, so its pages never give one.
 * Such a cursor (forged, or carried over from a PostgreSQL deployment) was
 * read on SQLite with its microseconds dropped, where PostgreSQL paged the
 * same cursor after them: the two stores continued it differently (an outside
 * probe's lead). Now SQLite refuses it as a cursor no page gave.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { JobStore } from "../../src/store/JobStore.js"
import { sqliteMemory } from "../support/stores.js"
import { eventRecord, newJob } from "./fixtures.js"

/** A page's cursor with a fifth element, the microseconds past its instant's millisecond. */
const withMicros = (cursor: string, micros: number): string => {
  const key = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as Array<unknown>
  return Buffer.from(JSON.stringify([...key, micros]), "utf8").toString("base64url")
}

describe("R5 SQLite cursors", () => {
  it.effect("R5 a cursor with microseconds, which no SQLite page gives, is a DecodeFailure on listJobs and listEvents; the page's own cursor still continues", () =>
    Effect.gen(function*() {
      const store = yield* JobStore
      for (let i = 0; i < 3; i++) yield* store.createJob(newJob())
      yield* store.appendEvents([eventRecord(), eventRecord(), eventRecord()])
      const jobs = yield* store.listJobs({ limit: 1 })
      const events = yield* store.listEvents({ limit: 1 })
      assert.isNotNull(jobs.next_cursor)
      assert.isNotNull(events.next_cursor)
      for (const micros of [1, 500, 999]) {
        const jobsRefused = yield* Effect.flip(store.listJobs({ cursor: withMicros(jobs.next_cursor!, micros) }))
        assert.strictEqual(jobsRefused._tag, "DecodeFailure")
        assert.match(jobsRefused.message, /microseconds/)
        const eventsRefused = yield* Effect.flip(store.listEvents({ cursor: withMicros(events.next_cursor!, micros) }))
        assert.strictEqual(eventsRefused._tag, "DecodeFailure")
      }
      assert.strictEqual((yield* store.listJobs({ cursor: jobs.next_cursor! })).items.length, 2)
      assert.strictEqual((yield* store.listEvents({ cursor: events.next_cursor! })).items.length, 2)
    }).pipe(Effect.provide(sqliteMemory.makeStore())), 30_000)
})
