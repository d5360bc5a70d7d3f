/**
 * The console is plain JavaScript with the domain's value lists written out
 * (states, kinds, event types for its filters): they must stay the domain's.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import { EventTypes } from "../../src/domain/EventRecord.js"
import { JobKinds } from "../../src/domain/JobKind.js"
import { JobStates } from "../../src/domain/JobState.js"
import { consoleDirectory } from "../../src/http/console.js"

const app = fs.readFileSync(new URL("app.js", consoleDirectory), "utf8")

/** The array literal assigned to `const name = [...]` in app.js. */
const listIn = (name: string): Array<string> => {
  const literal = new RegExp(`^const ${name} = (\\[.*\\])$`, "m").exec(app)?.[1]
  assert.isDefined(literal, `app.js defines ${name}`)
  return JSON.parse(literal!) as Array<string>
}

describe("the console's value lists", () => {
  it("17.3 the console filters by exactly the domain's job states, job kinds and event types", () => {
    assert.deepStrictEqual(listIn("STATES"), [...JobStates])
    assert.deepStrictEqual(listIn("KINDS"), [...JobKinds])
    assert.sameMembers(listIn("EVENT_TYPES"), [...EventTypes])
  })

  it("17.3 the console never turns text into HTML: no innerHTML, outerHTML, insertAdjacentHTML or document.write", () => {
    assert.notMatch(app, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/)
  })
})
