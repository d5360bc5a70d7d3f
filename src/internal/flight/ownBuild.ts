/**
 * The library's own event builder of a recorder. The service's public
 * `build` checks every field a caller gives (checkedBuild.ts): a decode and
 * a read of the job. The library's own events (Jobs, Recovery, Janitor, the
 * hot paths) are built from values it holds typed and with their job's
 * trace, so they take the builder that trusts its fields — kept here, by
 * the service it belongs to, where no caller can reach it (as domain/vouched.ts
 * keeps its mark).
 */
import * as Effect from "effect/Effect"
import type { EventRecord } from "../../domain/EventRecord.js"
import type { ReadError } from "../../store/JobStore.js"
import type { EventTooLarge, InvalidEvent } from "./Errors.js"
import type { LibraryEvent } from "./libraryEvents.js"

/** A library event to its record, or why its caller text is refused. */
export type OwnBuild = (event: LibraryEvent) => Effect.Effect<EventRecord, InvalidEvent | EventTooLarge>

/** What of a recorder this module reads: its public `build`. */
interface Recorder {
  readonly build: (event: LibraryEvent) => Effect.Effect<EventRecord, InvalidEvent | EventTooLarge | ReadError>
}

const builds = new WeakMap<object, OwnBuild>()

/** Gives `recorder` its own builder; returns `recorder`. */
export const withOwnBuild = <R extends Recorder>(recorder: R, build: OwnBuild): R => {
  builds.set(recorder, build)
  return recorder
}

/**
 * `recorder`'s own builder. A recorder made elsewhere (a test's) has none: its public `build`,
 * whose failed read of a job is a defect here, as a library event names a job it holds.
 */
export const ownBuild = (recorder: Recorder): OwnBuild =>
  builds.get(recorder) ?? ((event) => Effect.catchTags(recorder.build(event), { StorageError: Effect.die, CorruptRow: Effect.die }))
