/**
 * Per-kind handlers (issue 15.4): a worker pool takes one program per job
 * kind, each typed by its kind, and claims only the kinds it has a program
 * for — so pools with different kinds can share a database.
 */
import type * as Effect from "effect/Effect"
import type { AiJob } from "../../domain/AiJob.js"
import type { JobKind } from "../../domain/JobKind.js"
import type { Json } from "../../domain/Json.js"
import type { RunContext } from "../jobs/runJob.js"

/** The run context of a job of kind `K`. */
export interface KindContext<K extends JobKind> extends RunContext {
  readonly job: AiJob & { readonly job_kind: K }
}

/** One program per kind; a kind left out is never claimed by the pool. A key that is no kind does not compile. */
export type Handlers<E, R> = {
  readonly [K in JobKind]?: ((context: KindContext<K>) => Effect.Effect<Json | void, E, R>) | undefined
}

/**
 * The program for a claimed job: its kind's handler. A pool only claims its
 * handlers' kinds, so a missing one is a defect, not a job failure.
 */
export const dispatch = <E, R>(handlers: Handlers<E, R>) => (context: RunContext): Effect.Effect<Json | void, E, R> => {
  const handler = handlers[context.job.job_kind] as ((context: RunContext) => Effect.Effect<Json | void, E, R>) | undefined
  if (handler === undefined) throw new Error(`worker pool claimed a ${context.job.job_kind} job it has no handler for`)
  return handler(context)
}
