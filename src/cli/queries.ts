/**
 * Reading whole result sets for display: follow the store's keyset cursors
 * until `limit` items are collected, and say whether more matched.
 */
import * as Effect from "effect/Effect"
import { FlightRecorder } from "../FlightRecorder.js"
import { type EventFilter, type JobFilter, JobStore, type Page } from "../store/JobStore.js"

/** Items up to the limit, whether at least one more matched, and the cursor to the rest when so. */
export interface Collected<A> {
  readonly items: ReadonlyArray<A>
  readonly truncated: boolean
  /** The store's cursor after the last item, when more matched: `ai-jobs events --cursor` reads on from it. */
  readonly next_cursor: string | null
}

/** The largest page the store serves. */
const PAGE = 1000

const collect = <A, E>(
  limit: number,
  from: string | undefined,
  page: (size: number, cursor: string | undefined) => Effect.Effect<Page<A>, E>
) =>
  Effect.gen(function*() {
    const items: Array<A> = []
    let cursor = from
    // Pages end exactly at `limit`, so the last one's cursor continues right after the last item
    // kept; the store reads one row past each page, so "more matched" costs no further query.
    for (;;) {
      const result = yield* page(Math.min(PAGE, limit - items.length), cursor)
      items.push(...result.items)
      if (result.next_cursor === null || result.items.length === 0 || items.length >= limit) {
        const next_cursor = items.length >= limit ? result.next_cursor : null
        return { items, truncated: next_cursor !== null, next_cursor } satisfies Collected<A>
      }
      cursor = result.next_cursor
    }
  })

/** Jobs matching `filter`, in its order (oldest first by default); after its `cursor` when given. */
export const collectJobs = (filter: Omit<JobFilter, "limit">, limit: number) =>
  Effect.flatMap(JobStore, (store) =>
    collect(limit, filter.cursor, (size, cursor) => store.listJobs({ ...filter, limit: size, ...(cursor === undefined ? {} : { cursor }) })))

/** Events matching `filter`, oldest first; after its `cursor` when given. */
export const collectEvents = (filter: Omit<EventFilter, "limit">, limit: number) =>
  Effect.flatMap(FlightRecorder, (recorder) =>
    collect(limit, filter.cursor, (size, cursor) => recorder.list({ ...filter, limit: size, ...(cursor === undefined ? {} : { cursor }) })))
