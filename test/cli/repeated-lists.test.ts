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
})
