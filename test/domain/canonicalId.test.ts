/**
 * Issue 16: the port passes an id already in its stored form on without the
 * schema (src/store/internal/portInput.ts). That is only right if such an
 * id is exactly what every id schema decodes it to, and if nothing else
 * counts as one: held here over random UUIDs in any case, the nil UUID and
 * odd strings.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import { EventId, isCanonicalId, JobId, NIL_UUID, NodeExecutionId, TraceId, WorkflowRunId } from "../../src/domain/Ids.js"

const decoders: ReadonlyArray<(input: unknown) => Either.Either<string, unknown>> = [
  Schema.decodeUnknownEither(JobId),
  Schema.decodeUnknownEither(TraceId),
  Schema.decodeUnknownEither(WorkflowRunId),
  Schema.decodeUnknownEither(NodeExecutionId),
  Schema.decodeUnknownEither(EventId)
]

describe("issue 16 ids in their stored form", () => {
  it("issue 16 an id isCanonicalId accepts decodes to itself under every id schema; the schema canonicalises the rest", () => {
    FastCheck.assert(
      FastCheck.property(
        FastCheck.oneof(
          FastCheck.uuid(),
          FastCheck.uuid().map((id) => id.toUpperCase()),
          FastCheck.constantFrom(NIL_UUID, "", " ", `${NIL_UUID.slice(0, -1)}1 `, "0190a3f4-1c2d-7e3f-8a9b-0c1d2e3f4a5"),
          FastCheck.string()
        ),
        (text) => {
          for (const decode of decoders) {
            const decoded = decode(text)
            if (isCanonicalId(text)) {
              assert.deepStrictEqual<Either.Either<string, unknown>>(decoded, Either.right(text))
            } else if (Either.isRight(decoded)) {
              // Valid but not in stored form: only another case of a canonical id.
              assert.notStrictEqual(decoded.right, text)
              assert.isTrue(isCanonicalId(decoded.right))
            }
          }
        }
      ),
      { numRuns: 1000 }
    )
    assert.isFalse(isCanonicalId(NIL_UUID))
    assert.isFalse(isCanonicalId("0190A3F4-1C2D-7E3F-8A9B-0C1D2E3F4A5B"))
    assert.isTrue(isCanonicalId("0190a3f4-1c2d-7e3f-8a9b-0c1d2e3f4a5b"))
  })
})
