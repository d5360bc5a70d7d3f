/** Decoding a list of untrusted inputs item by item, for the batch operations (issue 16). */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { DecodeFailure, type DecodeIssue } from "./Errors.js"
import { MAX_DECODE_ISSUES } from "./issueBounds.js"

/** The row a single decode ends with past the bound (Errors.ts formatIssues): its count is carried over. */
const counted = /^… and (\d+) more issues$/

/**
 * Decodes every item of `input` with `decode` — so each item meets exactly
 * the checks (depth bound included) it would meet alone — and reports the
 * problems of every item in one `DecodeFailure` named `subject`, each path
 * starting with the item's index. Like a single decode, it lists at most
 * `MAX_DECODE_ISSUES` issues and counts the rest in one last issue, whose
 * count includes what each item had already counted. Input that is not an
 * array is refused too.
 */
export const decodeEach = <A>(decode: (item: unknown) => Effect.Effect<A, DecodeFailure>, subject: string) =>
(input: unknown): Effect.Effect<ReadonlyArray<A>, DecodeFailure> => {
  if (!Array.isArray(input)) {
    return Effect.fail(new DecodeFailure({ subject, issues: [{ path: "", message: "Expected an array" }] }))
  }
  return Effect.flatMap(Effect.forEach(input, (item: unknown) => Effect.either(decode(item))), (results) => {
    const issues: Array<DecodeIssue> = []
    const values: Array<A> = []
    let more = 0
    results.forEach((result, index) => {
      if (Either.isRight(result)) return void values.push(result.right)
      for (const issue of result.left.issues) {
        const already = issue.path === "" ? counted.exec(issue.message) : null
        if (already !== null) more += Number(already[1])
        else if (issues.length < MAX_DECODE_ISSUES) {
          issues.push({ path: issue.path === "" ? String(index) : `${index}.${issue.path}`, message: issue.message })
        } else more++
      }
    })
    if (more > 0) issues.push({ path: "", message: `… and ${more} more issues` })
    return issues.length > 0 ? Effect.fail(new DecodeFailure({ subject, issues })) : Effect.succeed(values)
  })
}
