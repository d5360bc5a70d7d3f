/**
 * Issue 16: `fixedStatement` (src/store/pg/fixedStatement.ts) compiles a
 * statement once with stand-ins; a call's text and parameters must be what
 * compiling the same template with the call's values gives — constants in
 * their places, a value used twice in both — and a value that is no plain
 * parameter of the template is refused as the store is built.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Statement from "@effect/sql/Statement"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import { fixedPerKey, fixedStatement } from "../../src/store/pg/fixedStatement.js"

const sql = Statement.make(Effect.dieMessage("no connection: compiled only"), PgClient.makeCompiler(), [], undefined)

const template = (at: string, runId: string) =>
  sql`UPDATE workflow_runs r SET last_heartbeat = ${at}::timestamptz, updated_at = ${at}::timestamptz
      ${sql`FROM (SELECT set_config(${"synchronous_commit"}, 'off', true)) AS unwaited`}
      WHERE r.id = ${runId} AND ${sql.literal("(r.status = 'running') IS TRUE")} AND r.attempt < ${3}`

describe("issue 16 a statement compiled once", () => {
  it("issue 16 each call gives the text and parameters compiling the template with its values gives", () => {
    const fixed = fixedStatement<[string, string]>(2, template)
    FastCheck.assert(FastCheck.property(FastCheck.string(), FastCheck.uuid(), (at, runId) => {
      const [text, params] = template(at, runId).compile()
      assert.strictEqual(fixed.text, text)
      assert.deepStrictEqual(fixed.params(at, runId), params)
    }))
  })

  it("issue 16 a value that is not a plain parameter of the template is refused at once", () => {
    assert.throws(() => fixedStatement<[string]>(1, (column) => sql`SELECT ${sql.literal(column)} FROM ai_jobs`), /value 0 is not/)
    assert.throws(() => fixedStatement<[string, string]>(2, (a) => sql`SELECT ${a}::text`), /value 1 is not/)
  })

  it("issue 16 statements kept per key: each key's compiled once, another key's never served for it, at most the limit kept", () => {
    const made: Array<string> = []
    const byKinds = fixedPerKey(
      2,
      (kinds: ReadonlyArray<string>) => kinds.join(" "),
      (kinds: ReadonlyArray<string>) => {
        made.push(kinds.join(" "))
        return fixedStatement<[string]>(1, (at) => sql`SELECT 1 WHERE ${sql.in("job_kind", kinds)} AND ${at}::text IS NOT NULL`)
      }
    )
    const edit = byKinds(["doc_edit"])
    assert.strictEqual(byKinds(["doc_edit"]), edit, "the same key: the statement kept")
    assert.deepStrictEqual(byKinds(["terminal_exec"]).params("t"), ["terminal_exec", "t"], "another key: its own statement")
    assert.deepStrictEqual(edit.params("t"), ["doc_edit", "t"])
    // A third key empties the map (limit 2): the first is compiled again, and is still its own.
    assert.deepStrictEqual(byKinds(["spec_router"]).params("t"), ["spec_router", "t"])
    assert.deepStrictEqual(byKinds(["doc_edit"]).params("t"), ["doc_edit", "t"])
    assert.deepStrictEqual(made, ["doc_edit", "terminal_exec", "spec_router", "doc_edit"])
  })
})
