/**
 * Reading whole result sets for display: follow the store's keyset cursors
 * until `limit` items are collected, and say whether more matched.
 */
import * as Effect from "effect/Effect"
import { FlightRecorder } from "../FlightRecorder.js"
import { type EventFilter, type JobFilter, JobStore, type Page } from "../store/JobStore.js"

/** Items up to the limit, and whether at least one more matched. */
export interface Collected<A> {
  readonly items: ReadonlyArray<A>
  readonly truncated: boolean
}

/** The largest page the store serves. */
const PAGE = 1000

const collect = <A, E>(limit: number, page: (size: number, cursor: string | undefined) => Effect.Effect<Page<A>, E>) =>
  Effect.gen(function*() {
    const items: Array<A> = []
    let cursor: string | undefined
    // Ask for one more than shown, so "more matched" is known without a count query.
    while (items.length <= limit) {
      const result = yield* page(Math.min(PAGE, limit + 1 - items.length), cursor)
      items.push(...result.items)
      if (result.next_cursor === null || result.items.length === 0) break
      cursor = result.next_cursor
    }
    return { items: items.slice(0, limit), truncated: items.length > limit } satisfies Collected<A>
  })

/** Jobs matching `filter`, in its order (oldest first by default). */
export const collectJobs = (filter: Omit<JobFilter, "limit" | "cursor">, limit: number) =>
  Effect.flatMap(JobStore, (store) =>
    collect(limit, (size, cursor) => store.listJobs({ ...filter, limit: size, ...(cursor === undefined ? {} : { cursor }) })))

/** Events matching `filter`, oldest first. */
export const collectEvents = (filter: Omit<EventFilter, "limit" | "cursor">, limit: number) =>
  Effect.flatMap(FlightRecorder, (recorder) =>
    collect(limit, (size, cursor) => recorder.list({ ...filter, limit: size, ...(cursor === undefined ? {} : { cursor }) })))
