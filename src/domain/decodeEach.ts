/** Decoding a list of untrusted inputs item by item, for the batch operations (issue 16). */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { DecodeFailure, type DecodeIssue } from "./Errors.js"

/**
 * Decodes every item of `input` with `decode` — so each item meets exactly
 * the checks (depth bound included) it would meet alone — and reports every
 * problem of every item in one `DecodeFailure` named `subject`, each path
 * starting with the item's index. Input that is not an array is refused too.
 */
export const decodeEach = <A>(decode: (item: unknown) => Effect.Effect<A, DecodeFailure>, subject: string) =>
(input: unknown): Effect.Effect<ReadonlyArray<A>, DecodeFailure> => {
  if (!Array.isArray(input)) {
    return Effect.fail(new DecodeFailure({ subject, issues: [{ path: "", message: "Expected an array" }] }))
  }
  return Effect.flatMap(Effect.forEach(input, (item: unknown) => Effect.either(decode(item))), (results) => {
    const issues: Array<DecodeIssue> = []
    const values: Array<A> = []
    results.forEach((result, index) => {
      if (Either.isRight(result)) return void values.push(result.right)
      for (const issue of result.left.issues) {
        issues.push({ path: issue.path === "" ? String(index) : `${index}.${issue.path}`, message: issue.message })
      }
    })
    return issues.length > 0 ? Effect.fail(new DecodeFailure({ subject, issues })) : Effect.succeed(values)
  })
}
