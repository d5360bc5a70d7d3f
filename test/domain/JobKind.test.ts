import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import { JobKind, JobKinds } from "../../src/index.js"

const decode = Schema.decodeUnknownEither(JobKind)
const encode = Schema.encodeEither(JobKind)

describe("R1 JobKind", () => {
  it("has exactly the twelve canonical kinds", () => {
    assert.deepStrictEqual([...JobKinds].sort(), [
      "asr_transcribe", "canvas_cluster", "debug_bundle_export", "distillation_eval", "doc_edit", "doc_ingest",
      "doc_rewrite", "doc_summarize", "sheet_transform", "spec_router", "terminal_exec", "workflow_run"
    ])
  })

  it.each(JobKinds)("R1 canonical kind %s round-trips unchanged", (kind) => {
    const decoded = decode(kind)
    assert.deepStrictEqual(decoded, Either.right(kind))
    assert.deepStrictEqual(encode(kind), Either.right(kind))
  })

  it("R1a term_exec decodes to terminal_exec and re-encodes as terminal_exec", () => {
    const decoded = Either.getOrThrow(decode("term_exec"))
    assert.strictEqual(decoded, "terminal_exec")
    assert.deepStrictEqual(encode(decoded), Either.right("terminal_exec"))
  })

  it("R1a the alias cannot be encoded", () => {
    assert.isTrue(Either.isLeft(encode("term_exec" as never)))
  })

  const badInputs: ReadonlyArray<unknown> = [
    "doc_test", "governance_pack_export", "", "TERMINAL_EXEC", " terminal_exec", "terminal_exec ", "Terminal_Exec",
    "TERM_EXEC", "term-exec", "terminal-exec", "doc edit", "docedit", "unknown", "workflow", "doc_summarise",
    "\u0000terminal_exec", "terminal_exec\n", null, undefined, 0, 12, true, {}, [], ["doc_edit"], { kind: "doc_edit" }
  ]

  it.each(badInputs.map((input) => [input]))("R1b rejects %j, naming the accepted values", (input) => {
    const result = decode(input)
    assert.isTrue(Either.isLeft(result), `accepted ${JSON.stringify(input)}`)
    if (Either.isLeft(result)) {
      for (const kind of JobKinds) assert.include(result.left.message, kind)
    }
  })

  it.prop("R1 any string decodes to a canonical kind or fails, never the alias", [FastCheck.oneof(
    FastCheck.string(),
    FastCheck.constantFrom(...JobKinds, "term_exec", "doc_test", "governance_pack_export")
  )], ([input]) => {
    const result = decode(input)
    if (Either.isRight(result)) {
      assert.include(JobKinds, result.right)
      assert.notStrictEqual(result.right, "term_exec")
      assert.isTrue(input === result.right || input === "term_exec")
    }
  }, { fastCheck: { numRuns: 2000 } })
})
