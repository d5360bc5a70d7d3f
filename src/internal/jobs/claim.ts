/**
 * Claiming (`Jobs.claimNext`): the oldest queued job the capability policy
 * admits, with its run and its events, in one transaction; a job the policy
 * refuses is failed on the way (admission.ts) and the search goes on.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type { AiJob } from "../../domain/AiJob.js"
import type { EventRecord } from "../../domain/EventRecord.js"
import type { JobKind } from "../../domain/JobKind.js"
import type { Refusal } from "../../Capabilities.js"
import type { JobStore } from "../../store/JobStore.js"
import type { Checked, makeAdmission } from "./admission.js"
import { lifecycleEvent, type Prepare } from "./auditEvents.js"

/** A claimed job the policy refused: rolls its claim back (internal to `claimNext`). */
class ClaimRefused extends Data.TaggedError("ClaimRefused")<{
  readonly job: AiJob
  readonly refusal: Refusal
  readonly records: ReadonlyArray<EventRecord>
}> {}

export const makeClaimNext = (store: JobStore["Type"], admission: ReturnType<typeof makeAdmission>, prepare: Prepare) => {
  /**
   * One claim attempt, in one transaction (the store's claim joins it: no
   * savepoint). If the policy refuses the claimed job, the transaction rolls
   * back — no run, the job queued again — and the job goes `queued → failed`
   * with its deny events instead. `"refused"` tells the caller to look again.
   */
  const claimOne = (kinds: ReadonlyArray<JobKind> | undefined) =>
    store.transaction(Effect.gen(function*() {
      // The policy's verdict on the claimed job, taken while the claim's records are built:
      // an admitted claim commits with them; a refused one writes none and is rolled back.
      let checked: Checked | undefined
      const claim = yield* store.claimNext({
        ...(kinds !== undefined ? { kinds } : {}),
        events: (claimed) =>
          Effect.gen(function*() {
            checked = yield* admission.recheck(claimed.job)
            if (checked.verdict._tag === "Refused") return []
            const record = yield* prepare(lifecycleEvent({ job: claimed.job, from: "queued", to: "running", workflow_run_id: claimed.run.id }))
            return [...checked.records, record]
          })
      })
      if (claim === null) return null
      if (checked?.verdict._tag === "Refused") {
        return yield* new ClaimRefused({ job: claim.job, refusal: checked.verdict.error, records: checked.records })
      }
      return claim
    })).pipe(
      Effect.catchTag("ClaimRefused", (refused) =>
        admission.refuse(refused.job, "queued", refused.refusal, refused.records, "claim").pipe(
          // Another worker took the job between the rollback and this write (the
          // rollback released its row lock): it is that worker's to refuse.
          Effect.catchTags({ IllegalTransition: () => Effect.void, NotFound: () => Effect.void }),
          Effect.as("refused" as const)
        ))
    )

  const claimNext = Effect.fn("Jobs.claimNext")(function*(options: { readonly kinds?: ReadonlyArray<JobKind> } = {}) {
    // Each refusal takes one job out of `queued`, so this ends.
    for (;;) {
      const outcome = yield* claimOne(options.kinds)
      if (outcome !== "refused") return outcome
    }
  })
  return claimNext
}
