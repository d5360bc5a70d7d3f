/**
 * Job ids as operators type them: a whole id, its start (4 or more hex
 * digits, like a git commit) or its short id (the last 8 hex digits, as
 * tables and timelines print it). Checked before the database is opened; an
 * abbreviation that names several jobs is refused, naming them.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as IdAbbreviation from "../domain/IdAbbreviation.js"
import { JobId } from "../domain/Ids.js"
import { JobStore } from "../store/JobStore.js"
import { BadInput, OperationFailed } from "./errors.js"

/** A job named on the command line: a whole id, or an abbreviation to look up. */
export type JobRef =
  | { readonly _tag: "Id"; readonly id: JobId }
  | { readonly _tag: "Abbreviation"; readonly text: string; readonly abbreviation: IdAbbreviation.IdAbbreviation }

const isUuid = Schema.is(Schema.UUID)

/** How many candidates an ambiguous abbreviation lists. */
const CANDIDATES = 5

/** Checks `text` as a job id or an abbreviation of one; `what` names the argument or flag in the error. */
export const parseJobRef = (what: string) => (text: string): Effect.Effect<JobRef, BadInput> => {
  const trimmed = text.trim()
  // Ids are stored in lower case; the nil UUID is never one (JobId.make would throw on it).
  if (isUuid(trimmed)) {
    const id = trimmed.toLowerCase()
    return Schema.is(JobId)(id) ? Effect.succeed({ _tag: "Id", id }) : Effect.fail(new BadInput({
      message: `malformed ${what} ${JSON.stringify(text)}: the nil UUID is never a job id`
    }))
  }
  return Either.match(IdAbbreviation.parse(trimmed), {
    onLeft: () =>
      Effect.fail(new BadInput({
        message: `malformed ${what} ${JSON.stringify(text)}; expected a job id (a UUID such as ` +
          `123e4567-e89b-42d3-a456-426614174000), its start (${IdAbbreviation.MIN_PREFIX_DIGITS} or more hex digits) ` +
          `or its short id (its last ${IdAbbreviation.SHORT_ID_DIGITS} hex digits)`
      })),
    onRight: (abbreviation) => Effect.succeed({ _tag: "Abbreviation", text: trimmed, abbreviation })
  })
}

/**
 * The job id `ref` names. No match is an operational failure (exit 1, as a
 * whole id that names no job), its message ending with `notFoundHint`;
 * several is bad input (exit 2), listing them.
 */
export const resolveJobRef = (what: string, notFoundHint = "") => (ref: JobRef) =>
  Effect.gen(function*() {
    if (ref._tag === "Id") return ref.id
    const store = yield* JobStore
    const ids = yield* store.findJobIds(ref.text, { limit: CANDIDATES + 1 }).pipe(
      Effect.catchTag("DecodeFailure", (error) => Effect.fail(new BadInput({ message: `malformed ${what}: ${error.message}` })))
    )
    const [only] = ids
    if (only !== undefined && ids.length === 1) return only
    if (only === undefined) {
      const where = ref.abbreviation.ending === null ? "starts" : "starts or ends"
      return yield* new OperationFailed({ message: `no job id ${where} with ${JSON.stringify(ref.text)}${notFoundHint}` })
    }
    const listed = ids.slice(0, CANDIDATES).join(", ") + (ids.length > CANDIDATES ? ", and more" : "")
    return yield* new BadInput({
      message: `ambiguous ${what} ${JSON.stringify(ref.text)}: ${ids.length > CANDIDATES ? "more than " + CANDIDATES : ids.length} ` +
        `jobs match (${listed}); give more of the id`
    })
  })
