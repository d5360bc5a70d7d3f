/**
 * README CLI: a list filter repeated (`--state a --state b`) is read as its
 * comma list before @effect/cli parses the arguments (src/cli/repeatedLists.ts);
 * the end to end behaviour is in test/cli/sqlite.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { joinRepeatedLists } from "../../src/cli/repeatedLists.js"

describe("R5 README the CLI's repeated list filters", () => {
  it("R5 occurrences join at the first one, in order, each option apart; other arguments keep their places", () => {
    assert.deepStrictEqual(
      joinRepeatedLists(["jobs", "list", "--state", "failed", "--json", "--kind", "doc_edit", "--state", "stalled,queued", "--kind", "term_exec"]),
      ["jobs", "list", "--state", "failed,stalled,queued", "--json", "--kind", "doc_edit,term_exec"]
    )
    assert.deepStrictEqual(joinRepeatedLists(["events", "--type", "system"]), ["events", "--type", "system"], "once: unchanged")
  })

  it("R5 an empty value stays for the parser to refuse; nothing after -- and no option without a value is touched", () => {
    assert.deepStrictEqual(joinRepeatedLists(["jobs", "list", "--state", ""]), ["jobs", "list", "--state", ""])
    assert.deepStrictEqual(joinRepeatedLists(["x", "--state", "a", "--", "--state", "b"]), ["x", "--state", "a", "--", "--state", "b"])
    assert.deepStrictEqual(joinRepeatedLists(["x", "--state", "a", "--state"]), ["x", "--state", "a", "--state"])
  })

  it("R5 the --opt=value form counts as an occurrence too, mixed with the other; --state= is an empty value; not after --, nor for other options", () => {
    assert.deepStrictEqual(
      joinRepeatedLists(["jobs", "list", "--state=failed", "--state=cancelled", "--kind=term_exec", "--kind", "doc_summarize", "--limit=5"]),
      ["jobs", "list", "--state", "failed,cancelled", "--kind", "term_exec,doc_summarize", "--limit=5"]
    )
    assert.deepStrictEqual(joinRepeatedLists(["events", "--type=system", "--type=diagnostic"]), ["events", "--type", "system,diagnostic"])
    assert.deepStrictEqual(joinRepeatedLists(["jobs", "list", "--state="]), ["jobs", "list", "--state", ""])
    assert.deepStrictEqual(joinRepeatedLists(["x", "--", "--state=a"]), ["x", "--", "--state=a"])
  })
})
