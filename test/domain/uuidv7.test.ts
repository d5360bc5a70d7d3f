import { assert, describe, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import { IDS_PER_REFILL, uuidv7 } from "../../src/domain/uuidv7.js"

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

describe("issue 16 uuidv7 randomness from a pool refilled every IDS_PER_REFILL ids", () => {
  it("issue 16 ids across several refills are well-formed, strictly increasing, and never reuse random bytes", () => {
    const ids = Array.from({ length: 3 * IDS_PER_REFILL + 7 }, uuidv7)
    for (const id of ids) {
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      assert.isTrue(Schema.is(Schema.UUID)(id))
    }
    for (let i = 1; i < ids.length; i++) assert.isTrue(ids[i - 1]! < ids[i]!, `${ids[i - 1]} !< ${ids[i]}`)
    assert.strictEqual(new Set(ids).size, ids.length)
    // The last 56 bits are the random part: a pool used twice without a refill would repeat them.
    const randomParts = ids.map((id) => id.slice(-14))
    assert.strictEqual(new Set(randomParts).size, randomParts.length)
  })

  it("issue 16 the time field is the big-endian milliseconds, also beyond 32 bits", () => {
    const before = Date.now()
    const id = uuidv7()
    const ms = parseInt(id.replaceAll("-", "").slice(0, 12), 16)
    assert.isTrue(ms >= before && ms <= Date.now() + 1 && ms > 2 ** 32)
  })
})
