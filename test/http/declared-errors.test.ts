/**
 * 17.2 the HTTP API declares the errors an endpoint can answer, no more: pin
 * and unpin are not guarded transitions (`Jobs.pin` cannot fail with
 * IllegalTransition), so neither their OpenAPI responses nor their typed
 * client's errors name it; the transitions still do.
 */
import { OpenApi } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import type * as Effect from "effect/Effect"
import { JobsApi } from "../../src/index.js"

type Operation = { readonly responses: Record<string, unknown> }
const doc = OpenApi.fromApi(JobsApi.Api) as unknown as { readonly paths: Record<string, { readonly post?: Operation }> }
const statuses = (action: string): ReadonlyArray<string> => Object.keys(doc.paths[`/jobs/{job_id}/${action}`]!.post!.responses).sort()

/** The typed client's failure tags for an action (compile-time). */
type Client = Effect.Effect.Success<ReturnType<typeof JobsApi.client>>
type ErrorTag<K extends keyof Client["jobs"]> = Extract<Effect.Effect.Error<ReturnType<Client["jobs"][K]>>, { readonly _tag: string }>["_tag"]
// Compile-time: IllegalTransition is among cancel's failures and not among pin's or unpin's.
export const _cancelMayBeRefused: "IllegalTransition" extends ErrorTag<"cancel"> ? true : false = true
export const _pinNeverRefused: "IllegalTransition" extends ErrorTag<"pin"> ? false : true = true
export const _unpinNeverRefused: "IllegalTransition" extends ErrorTag<"unpin"> ? false : true = true

describe("17.2 the HTTP API declares only the errors an action can answer", () => {
  it("17.2 pin and unpin declare no 409 IllegalTransition (Jobs.pin cannot fail so); cancel, retry, fail, resume and rework still do", () => {
    for (const action of ["pin", "unpin"]) assert.notInclude(statuses(action), "409", action)
    for (const action of ["cancel", "retry", "fail", "resume", "rework"]) assert.include(statuses(action), "409", action)
    assert.deepStrictEqual(statuses("pin"), statuses("unpin"))
  })

  it("R6 17.2 rework (awaiting_user → running) is an endpoint with resume's answers: the policy checks the job again (403, 422) and a state it does not take is 409", () => {
    assert.deepStrictEqual(statuses("rework"), statuses("resume"))
    for (const status of ["403", "409", "422"]) assert.include(statuses("rework"), status)
  })
})
