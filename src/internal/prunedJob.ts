/**
 * A job's view of an id the store has no job for says whether the job was
 * pruned: its lifecycle events outlive it (retention purges them later), so
 * an operator sent to a job by its audit trail learns where its history went
 * instead of a bare "No job". Read only on the miss.
 */
import * as Effect from "effect/Effect"
import type { JobId } from "../domain/Ids.js"
import type { JobStore } from "../store/JobStore.js"
import { NotFound } from "../store/StoreErrors.js"

/** `effect`, its job `NotFound` marked `pruned` when a lifecycle event still names the job. */
export const sayingWhenPruned = <A, E>(store: JobStore["Type"], jobId: JobId, effect: Effect.Effect<A, E | NotFound>) =>
  Effect.catchIf(effect, (error): error is NotFound => error instanceof NotFound && error.entity === "job" && error.id === jobId, (missing) =>
    store.listEvents({ job_id: jobId, types: ["system"], limit: 1 }).pipe(
      Effect.map((page) => page.items.length > 0),
      // A trail that cannot be read says nothing either way: the plain miss stands.
      Effect.orElseSucceed(() => false),
      Effect.flatMap((pruned) => Effect.fail(pruned ? new NotFound({ entity: "job", id: jobId, pruned }) : missing))
    ))
