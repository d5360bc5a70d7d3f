/**
 * The reader of keys given twice (src/http/duplicateKeys.ts) that the API's
 * body check uses (R17, input rules 17.2): it finds a key given twice however
 * it is spelt, wherever it sits, and never mistakes a string's content for
 * structure.
 */
import { assert, describe, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { firstDuplicateKey } from "../../src/http/duplicateKeys.js"

describe("firstDuplicateKey", () => {
  it("names the key and the path of its object", () => {
    assert.deepStrictEqual(firstDuplicateKey(`{"a":1,"a":2}`), { path: [], key: "a" })
    assert.deepStrictEqual(firstDuplicateKey(` { "x" : [ 0 , { "b" : { "c" : 1 , "c" : 1 } } ] } `), { path: ["x", 1, "b"], key: "c" })
    assert.deepStrictEqual(firstDuplicateKey(`[{"a":1},{"a":2},{"k":1,"k":2}]`), { path: [2], key: "k" })
    // The first one met in the text, not the deepest.
    assert.deepStrictEqual(firstDuplicateKey(`{"z":{"y":1,"y":2},"z":3}`), { path: ["z"], key: "y" })
  })

  it("compares keys as JSON.parse reads them", () => {
    assert.deepStrictEqual(firstDuplicateKey(`{"a":1,"\\u0061":2}`), { path: [], key: "a" })
    assert.deepStrictEqual(firstDuplicateKey(`{"a\\"b":1,"a\\u0022b":2}`), { path: [], key: "a\"b" })
    assert.deepStrictEqual(firstDuplicateKey(`{"__proto__":1,"__proto__":2}`), { path: [], key: "__proto__" })
    assert.deepStrictEqual(firstDuplicateKey(`{"":1,"":2}`), { path: [], key: "" })
    assert.strictEqual(firstDuplicateKey(`{"a":1,"A":2,"a ":3}`), undefined)
  })

  it("reads strings as strings: quotes, backslashes and punctuation inside them are not structure", () => {
    assert.strictEqual(firstDuplicateKey(`{"a":"\\\\","b":"{\\"a\\":1,","c":"}],:"}`), undefined)
    assert.strictEqual(firstDuplicateKey(`{"a\\\\":1,"a":2}`), undefined)
    assert.strictEqual(firstDuplicateKey(`{"v":"a","a":"v"}`), undefined)
    assert.deepStrictEqual(firstDuplicateKey(`{"s":"\\\\\\"","s":1}`), { path: [], key: "s" })
  })

  it("finds nothing in what JSON.stringify writes (no object of it has a key twice)", () => {
    FastCheck.assert(FastCheck.property(FastCheck.jsonValue(), (value) => firstDuplicateKey(JSON.stringify(value)) === undefined))
  })

  it("finds a key doubled anywhere in any JSON", () => {
    FastCheck.assert(FastCheck.property(
      FastCheck.jsonValue(),
      FastCheck.string(),
      FastCheck.jsonValue(),
      (value, key, other) => {
        // The doubled object at the end of an array holding `value`: everything before it is read first.
        const text = `[${JSON.stringify(value)},{${JSON.stringify(key)}:1,${JSON.stringify(key)}:${JSON.stringify(other)}}]`
        const found = firstDuplicateKey(text)
        return found !== undefined && found.key === key && found.path.length === 1 && found.path[0] === 1
      }
    ))
  })

  it("says nothing of texts without objects", () => {
    for (const text of [`1`, `"a"`, `[]`, `[1,[2,[3]]]`, `null`, `{}`]) assert.strictEqual(firstDuplicateKey(text), undefined)
  })
})
