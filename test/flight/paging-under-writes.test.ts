/**
 * R5 R10 keyset pages while others write: a reader pages through the Flight
 * Recorder (`listEvents`) or the job list (`listJobs`) on one store while a
 * writer on another store of the same database (its own connections: another
 * SQLite client, another PostgreSQL pool) appends, creates and purges between
 * its pages. Every row that was there when paging began and is still there is
 * read exactly once, in order; a row written behind the cursor is never read,
 * one written ahead of it is read once; a cursor whose own row was purged
 * continues without error. The writes are ordered between page reads by the
 * test itself; in the many-writers case three writers race between each two
 * pages.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import * as TestClock from "effect/TestClock"
import type { AiJob } from "../../src/domain/AiJob.js"
import type { EventRecord } from "../../src/domain/EventRecord.js"
import { EventId } from "../../src/domain/Ids.js"
import type { Page } from "../../src/store/JobStore.js"
import { type Backend, type Store, withTwoStores } from "../support/backend.js"
import { postgres, sqliteFile } from "../support/stores.js"
import { at, eventRecord, ids, newJob } from "../store/fixtures.js"

type Order = "asc" | "desc"
/** A row's sort key: its instant (ms) and its id. */
type Key = readonly [number, string]

const compare = (a: Key, b: Key): number => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0)
/** Whether `key` comes after `cursor` in `order`: what the next page may still show. */
const ahead = (order: Order, key: Key, cursor: Key): boolean => (order === "asc" ? compare(key, cursor) > 0 : compare(key, cursor) < 0)

const eventKey = (event: EventRecord): Key => [DateTime.toEpochMillis(event.timestamp), event.event_id]
const jobKey = (job: AiJob): Key => [DateTime.toEpochMillis(job.created_at), job.job_id]

/** Ids that sort first and last among UUIDs, so rows at the cursor's instant fall on both sides of its id. */
const lowId = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`
const highId = (n: number) => `ffffffff-ffff-4fff-bfff-${String(n).padStart(12, "0")}`

/** Asserts the rows read are in `order`, none twice. */
const assertOrderedOnce = (order: Order, keys: ReadonlyArray<Key>, label: string) => {
  for (let i = 1; i < keys.length; i++) {
    assert.isTrue(ahead(order, keys[i]!, keys[i - 1]!), `${label}: row ${i} (${keys[i]}) comes after row ${i - 1} (${keys[i - 1]}) in ${order} order, once`)
  }
}

/**
 * The rows read from a listing written to between its pages: in `order`, none twice, every `initial`
 * row, and of the `added` ones exactly those ahead of `cursor`, with some on either side of it.
 * Returns how many added rows were ahead.
 */
const assertReadOnceAhead = <A>(
  order: Order,
  keyOf: (row: A) => Key,
  rows: { readonly read: ReadonlyArray<A>; readonly initial: ReadonlyArray<A>; readonly added: ReadonlyArray<A> },
  cursor: Key,
  label: string
): number => {
  const idOf = (row: A) => keyOf(row)[1]
  assertOrderedOnce(order, rows.read.map(keyOf), label)
  const readIds = new Set(rows.read.map(idOf))
  for (const row of rows.initial) assert.isTrue(readIds.has(idOf(row)), `initial ${idOf(row)} read`)
  const expectedAdded = rows.added.filter((row) => ahead(order, keyOf(row), cursor))
  assert.deepStrictEqual(
    rows.added.filter((row) => readIds.has(idOf(row))).map(idOf).sort(),
    expectedAdded.map(idOf).sort(),
    `exactly the ${label} added ahead of the cursor are read`
  )
  // Both sides of the cursor at its own instant were written, so both rules were tried.
  assert.isAbove(expectedAdded.length, 0)
  assert.isBelow(expectedAdded.length, rows.added.length)
  return expectedAdded.length
}

/** Reads the rest of a listing from `cursor`, a page of `limit` at a time. */
const readRest = <A>(read: (cursor: string) => Effect.Effect<Page<A>, unknown>, cursor: string | null) =>
  Effect.gen(function*() {
    const items: Array<A> = []
    let next = cursor
    for (let pages = 0; next !== null; pages++) {
      assert.isBelow(pages, 100, "the listing ends")
      const page: Page<A> = yield* read(next)
      items.push(...page.items)
      next = page.next_cursor
    }
    return items
  })

const runOn = (backend: Backend) =>
  describe(`paging under writes on ${backend.name}`, () => {
    const twoStores = <A, E>(body: (reader: Store, writer: Store) => Effect.Effect<A, E>) => withTwoStores(backend, body)

    for (const order of ["asc", "desc"] as const) {
      it.effect(`R10 ${order}: events appended between pages — before, after and at the cursor's instant on both sides of its id — are read once if ahead of the cursor, never if behind`, () =>
        twoStores((reader, writer) =>
          Effect.gen(function*() {
            const initial = [1_000, 1_000, 1_000, 2_000, 2_000, 2_000, 3_000, 3_000, 3_000].map((ms) => eventRecord({ timestamp: at(ms) }))
            yield* writer.appendEvents(initial)
            const first = yield* reader.listEvents({ order, limit: 4 })
            assert.strictEqual(first.items.length, 4)
            const cursorKey = eventKey(first.items[3]!)
            assert.strictEqual(cursorKey[0], 2_000, "the cursor sits among the rows at 2,000 ms")

            const added = [
              eventRecord({ timestamp: at(500) }),
              eventRecord({ timestamp: at(4_000) }),
              ...[1, 2, 3].map((n) => eventRecord({ timestamp: at(2_000), event_id: EventId.make(lowId(n)) })),
              ...[1, 2, 3].map((n) => eventRecord({ timestamp: at(2_000), event_id: EventId.make(highId(n)) }))
            ]
            yield* writer.appendEvents(added)
            const rest = yield* readRest((cursor) => reader.listEvents({ cursor, limit: 4 }), first.next_cursor)

            const read = [...first.items, ...rest]
            const aheadCount = assertReadOnceAhead(order, eventKey, { read, initial, added }, cursorKey, "events")
            assert.strictEqual(read.length, initial.length + aheadCount)
          })))

      it.effect(`R10 ${order}: events purged between pages, the cursor's own row among them, leave the survivors ahead read once and no error`, () =>
        twoStores((reader, writer) =>
          Effect.gen(function*() {
            const initial = [1_000, 1_000, 1_000, 2_000, 2_000, 2_000, 3_000, 3_000, 3_000].map((ms) => eventRecord({ timestamp: at(ms) }))
            yield* writer.appendEvents(initial)
            const first = yield* reader.listEvents({ order, limit: 4 })
            const cursorKey = eventKey(first.items[3]!)
            assert.strictEqual(cursorKey[0], 2_000)
            // Retention removes everything before 2,500 ms: the cursor's row and every row at 2,000 ms go.
            assert.strictEqual(yield* writer.purgeEventsBatch({ before: at(2_500), batchSize: 100 }), 6)
            const rest = yield* readRest((cursor) => reader.listEvents({ cursor, limit: 4 }), first.next_cursor)
            const survivorsAhead = initial.filter((event) => DateTime.toEpochMillis(event.timestamp) > 2_500 && ahead(order, eventKey(event), cursorKey))
            assert.deepStrictEqual(rest.map((event) => event.event_id), [...survivorsAhead].sort((a, b) => (order === "asc" ? 1 : -1) * compare(eventKey(a), eventKey(b))).map((event) => event.event_id))
            assertOrderedOnce(order, [...first.items, ...rest].map(eventKey), "events")
          })))

      it.effect(`R5 ${order}: jobs created between pages — before, after and at the cursor's instant on both sides of its id — are read once if ahead of the cursor, never if behind`, () =>
        twoStores((reader, writer) =>
          Effect.gen(function*() {
            const initial: Array<AiJob> = []
            for (const ms of [1_000, 1_000, 1_000, 2_000, 2_000, 2_000, 3_000, 3_000, 3_000]) {
              yield* TestClock.setTime(ms)
              initial.push(yield* writer.createJob(newJob({ job_id: ids.job() })))
            }
            const first = yield* reader.listJobs({ order, limit: 4 })
            const cursorKey = jobKey(first.items[3]!)
            assert.strictEqual(cursorKey[0], 2_000, "the cursor sits among the jobs created at 2,000 ms")

            const added: Array<AiJob> = []
            const createAt = (ms: number, jobId?: string) =>
              Effect.gen(function*() {
                yield* TestClock.setTime(ms)
                added.push(yield* writer.createJob(newJob(jobId === undefined ? {} : { job_id: jobId as AiJob["job_id"] })))
              })
            yield* createAt(500)
            yield* createAt(4_000)
            for (const n of [1, 2, 3]) {
              yield* createAt(2_000, lowId(n))
              yield* createAt(2_000, highId(n))
            }
            const rest = yield* readRest((cursor) => reader.listJobs({ cursor, limit: 4 }), first.next_cursor)

            assertReadOnceAhead(order, jobKey, { read: [...first.items, ...rest], initial, added }, cursorKey, "jobs")
          })))

      it.effect(`R10 ${order}: eight writers appending while a reader pages by 3 — the rows there at the start are each read once, the whole read in order`, () =>
        twoStores((reader, writer) =>
          Effect.gen(function*() {
            const initial = Array.from({ length: 30 }, (_, i) => eventRecord({ timestamp: at(10_000 + 100 * (i % 10)) }))
            yield* writer.appendEvents(initial)
            // Between each two pages the reader lets three writes go and waits for them, so every write
            // lands between page reads and three of the eight writers race each time. Writers spread
            // their rows over the whole range, before, among and after the initial ones.
            const tickets = yield* Queue.unbounded<void>()
            const written = yield* Queue.unbounded<Exit.Exit<void, unknown>>()
            let issued = 0
            const writers = yield* Effect.forEach(
              Array.from({ length: 8 }, (_, w) => w),
              (w) =>
                Effect.fork(Effect.forever(Effect.gen(function*() {
                  yield* Queue.take(tickets)
                  const i = issued++
                  const exit = yield* Effect.exit(writer.appendEvents([eventRecord({ timestamp: at(9_500 + 150 * ((w * 7 + i * 3) % 12)) })]))
                  yield* Queue.offer(written, exit)
                })))
            )
            const betweenPages = Effect.gen(function*() {
              const count = Math.min(3, 80 - issued)
              yield* Queue.offerAll(tickets, Array.from({ length: count }, () => undefined))
              for (let i = 0; i < count; i++) yield* Effect.flatten(Queue.take(written))
            })
            const first = yield* reader.listEvents({ order, limit: 3 })
            const rest = yield* readRest((cursor) => Effect.zipRight(betweenPages, reader.listEvents({ cursor, limit: 3 })), first.next_cursor)
            yield* Fiber.interruptAll(writers)
            const read = [...first.items, ...rest]
            assertOrderedOnce(order, read.map(eventKey), "events")
            const readIds = new Set(read.map((event) => event.event_id))
            for (const event of initial) assert.isTrue(readIds.has(event.event_id), `initial ${event.event_id} read`)
            assert.strictEqual(readIds.size, read.length, "no event read twice")
          })))
    }
  })

for (const backend of [sqliteFile, postgres("paging under writes")]) runOn(backend)
