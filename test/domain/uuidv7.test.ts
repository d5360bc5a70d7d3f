import { assert, describe, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import { uuidv7 } from "../../src/domain/uuidv7.js"

describe("uuidv7", () => {
  it("ids are valid version-7 UUIDs, strictly increasing even within one millisecond", () => {
    const ids = Array.from({ length: 5000 }, uuidv7)
    for (const id of ids) {
      assert.isTrue(Schema.is(Schema.UUID)(id))
      assert.strictEqual(id[14], "7")
      assert.include("89ab", id[19]!)
    }
    for (let i = 1; i < ids.length; i++) assert.isTrue(ids[i - 1]! < ids[i]!, `${ids[i - 1]} !< ${ids[i]}`)
    assert.strictEqual(new Set(ids).size, ids.length)
  })

  it("the first 48 bits are the creation time in milliseconds", () => {
    const before = Date.now()
    const id = uuidv7()
    const ms = parseInt(id.replaceAll("-", "").slice(0, 12), 16)
    assert.isTrue(ms >= before && ms <= Date.now() + 1)
  })
})
