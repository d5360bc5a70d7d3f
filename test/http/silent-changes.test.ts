/**
 * The reader of what JSON.parse would change without a word
 * (src/http/silentChanges.ts), which the API's body check uses (R17, input
 * rules 17.2): a key given twice, however it is spelt and wherever it sits,
 * and a number a double cannot hold; never a string's content mistaken for
 * structure, never a number a client's serializer writes for a double.
 */
import { assert, describe, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { firstSilentChange } from "../../src/http/silentChanges.js"

const keyTwice = (path: ReadonlyArray<string | number>, key: string) => ({ _tag: "KeyTwice" as const, path, key })

describe("firstSilentChange: keys given twice", () => {
  it("names the key and the path of its object", () => {
    assert.deepStrictEqual(firstSilentChange(`{"a":1,"a":2}`), keyTwice([], "a"))
    assert.deepStrictEqual(firstSilentChange(` { "x" : [ 0 , { "b" : { "c" : 1 , "c" : 1 } } ] } `), keyTwice(["x", 1, "b"], "c"))
    assert.deepStrictEqual(firstSilentChange(`[{"a":1},{"a":2},{"k":1,"k":2}]`), keyTwice([2], "k"))
    // The first one met in the text, not the deepest.
    assert.deepStrictEqual(firstSilentChange(`{"z":{"y":1,"y":2},"z":3}`), keyTwice(["z"], "y"))
  })

  it("compares keys as JSON.parse reads them", () => {
    assert.deepStrictEqual(firstSilentChange(`{"a":1,"\\u0061":2}`), keyTwice([], "a"))
    assert.deepStrictEqual(firstSilentChange(`{"a\\"b":1,"a\\u0022b":2}`), keyTwice([], "a\"b"))
    assert.deepStrictEqual(firstSilentChange(`{"__proto__":1,"__proto__":2}`), keyTwice([], "__proto__"))
    assert.deepStrictEqual(firstSilentChange(`{"":1,"":2}`), keyTwice([], ""))
    assert.strictEqual(firstSilentChange(`{"a":1,"A":2,"a ":3}`), undefined)
  })

  it("reads strings as strings: quotes, backslashes, digits and punctuation inside them are not structure", () => {
    assert.strictEqual(firstSilentChange(`{"a":"\\\\","b":"{\\"a\\":1,","c":"}],:"}`), undefined)
    assert.strictEqual(firstSilentChange(`{"a\\\\":1,"a":2}`), undefined)
    assert.strictEqual(firstSilentChange(`{"v":"a","a":"v"}`), undefined)
    assert.strictEqual(firstSilentChange(`{"n":"12345678901234567890","1e400":"-1e-400"}`), undefined)
    assert.deepStrictEqual(firstSilentChange(`{"s":"\\\\\\"","s":1}`), keyTwice([], "s"))
  })

  it("finds a key doubled anywhere in any JSON", () => {
    FastCheck.assert(FastCheck.property(
      FastCheck.jsonValue(),
      FastCheck.string(),
      FastCheck.jsonValue(),
      (value, key, other) => {
        // The doubled object at the end of an array holding `value`: everything before it is read first.
        const text = `[${JSON.stringify(value)},{${JSON.stringify(key)}:1,${JSON.stringify(key)}:${JSON.stringify(other)}}]`
        const found = firstSilentChange(text)
        return found?._tag === "KeyTwice" && found.key === key && found.path.length === 1 && found.path[0] === 1
      }
    ))
  })
})

describe("firstSilentChange: numbers a double cannot hold", () => {
  const inexact = (text: string) => firstSilentChange(`{"a":[1,{"n":${text}}]}`)

  it("refuses a number read as another: past 2^53 as a whole number, underflow to zero, overflow, more digits than a double has", () => {
    for (const [text, read] of [
      ["12345678901234567890", 12345678901234567000],
      ["9007199254740993", 9007199254740992],
      ["-9007199254740993", -9007199254740992],
      ["1e-400", 0],
      ["-2.5E-400", -0],
      ["1e400", Infinity],
      ["-1.8e308", -Infinity],
      ["3.14159265358979323846", 3.141592653589793],
      // Written as a fraction, but with a digit the double it reads does not have.
      ["9007199254740993.0", 9007199254740992],
      ["2.5e-324", 5e-324],
      // Nearer another double's neighbours than the double it reads (1562526424093931.25 is a double).
      ["1562526424093931.1", 1562526424093931],
      ["1562526424093931.4", 1562526424093931.5]
    ] as const) {
      assert.deepStrictEqual(inexact(text), { _tag: "InexactNumber", path: ["a", 1, "n"], text, read }, text)
    }
    assert.deepStrictEqual(firstSilentChange(`1e999`), { _tag: "InexactNumber", path: [], text: "1e999", read: Infinity })
    assert.deepStrictEqual(firstSilentChange(`[0, 1, 1e-999]`), { _tag: "InexactNumber", path: [2], text: "1e-999", read: 0 })
  })

  it("keeps every way of writing a double's value", () => {
    for (const text of ["0", "-0", "0.0", "0e10", "-0.0E-5", "1.0", "1E2", "1.5e+3", "0.1", "-0.30000000000000004", "9007199254740992",
      "123456789012345", "1e21", "1.7976931348623157e308", "5e-324", "2.2250738585072014E-308",
      // Another serializer's 17 digits for the double 0.1 (C's %.17g, .NET's "R"): that double, as sent;
      // and its exact value cut at 34 digits.
      "0.10000000000000001", "1.0000000000000000e+21", "0.1000000000000000055511151231257827",
      // The double 1562526424093931.25 is halfway between these two 17-digit decimals: JS writes the first, %.17g the second.
      "1562526424093931.2", "1562526424093931.3", "1.5625264240939312e15",
      // 2^89: JS writes the shortest decimal that reads back, …902, though …9014 rounds nearer at 17 digits.
      "6.189700196426902e+26", "6.1897001964269014e26"]) {
      assert.strictEqual(inexact(text), undefined, text)
    }
  })

  it("finds nothing in what JSON.stringify writes", () => {
    FastCheck.assert(FastCheck.property(FastCheck.jsonValue(), (value) => firstSilentChange(JSON.stringify(value)) === undefined))
    FastCheck.assert(FastCheck.property(FastCheck.double({ noNaN: true, noDefaultInfinity: true }), (value) => firstSilentChange(JSON.stringify([value])) === undefined))
  })

  it("keeps any decimal of up to 15 significant digits without an exponent (the reader's fast path), as the exact check does", () => {
    FastCheck.assert(FastCheck.property(
      FastCheck.stringMatching(/^-?(0|[1-9][0-9]{0,7})\.[0-9]{1,7}$/),
      (text) => {
        const digits = text.replace(/[^0-9]/g, "").replace(/^0+/, "").length
        FastCheck.pre(digits <= 15)
        // The same number with an exponent takes the exact check.
        return firstSilentChange(`[${text}]`) === undefined && firstSilentChange(`[${text}e0]`) === undefined
      }
    ))
  })

  it("keeps any double written with 1 to 17 significant digits (%.Ng, toPrecision), but for a whole number past 2^53 JSON writes otherwise", () => {
    // toPrecision(17) writes the double -35919116788607030 as its exact value, the whole number -35919116788607032:
    // refused like any whole number that would not come back as written (the int64 rule below; CI found it).
    assert.deepStrictEqual(firstSilentChange(`[${(-35919116788607030).toPrecision(17)}]`), {
      _tag: "InexactNumber", path: [0], text: "-35919116788607032", read: -35919116788607030
    })
    FastCheck.assert(FastCheck.property(
      FastCheck.double({ noNaN: true, noDefaultInfinity: true, min: -1e300, max: 1e300 }).filter((value) => value === 0 || Math.abs(value) > 1e-300),
      FastCheck.integer({ min: 1, max: 17 }),
      (value, digits) => {
        const text = value.toPrecision(digits)
        const found = firstSilentChange(`[${text}]`)
        const wholeNotBack = !/[.e]/.test(text) && JSON.stringify(JSON.parse(text)) !== text
        return wholeNotBack ? found?._tag === "InexactNumber" && found.text === text : found === undefined
      }
    ))
  })

  it("finds nothing in what JSON.stringify writes for any power of two, where the shortest decimal is not always the nearest, nor for its odd multiples below 8", () => {
    for (let exponent = -1074; exponent <= 1023; exponent++) {
      for (const odd of [1, 3, 5, 7]) {
        const value = odd * 2 ** exponent
        if (!Number.isFinite(value)) continue
        for (const signed of [value, -value]) {
          assert.strictEqual(firstSilentChange(JSON.stringify([signed])), undefined, `${odd}·2^${exponent}: ${JSON.stringify(signed)}`)
        }
      }
    }
  })

  it("keeps both 17-digit decimals halfway around a double, whichever way the writer breaks the tie (JS down, %.17g up)", () => {
    // n + 0.25 and n + 0.75 with n of 16 digits below 2^51 are doubles with 18 significant digits, the last a 5.
    FastCheck.assert(FastCheck.property(
      FastCheck.integer({ min: 1e15, max: 2 ** 51 - 1 }),
      FastCheck.constantFrom(0.25, 0.75),
      FastCheck.boolean(),
      (whole, quarter, negative) => {
        const value = (negative ? -1 : 1) * (whole + quarter)
        const below = `${negative ? "-" : ""}${whole}.${quarter === 0.25 ? 2 : 7}`
        const above = `${negative ? "-" : ""}${whole}.${quarter === 0.25 ? 3 : 8}`
        return [below, above, JSON.stringify(value), value.toPrecision(17)].every((text) => firstSilentChange(`[${text}]`) === undefined)
      }
    ))
  })

  it("refuses a whole number past 2^53 exactly when it would not come back as written (an int64 reader gets another number)", () => {
    // 81064243538952176 is a double exactly, but JSON writes that double as 81064243538952180: refused too.
    assert.deepStrictEqual(firstSilentChange(`[81064243538952176]`), { _tag: "InexactNumber", path: [0], text: "81064243538952176", read: 81064243538952176 })
    FastCheck.assert(FastCheck.property(
      FastCheck.bigInt({ min: 2n ** 53n, max: 2n ** 70n }),
      FastCheck.boolean(),
      (whole, negative) => {
        const text = `${negative ? "-" : ""}${whole}`
        const comesBack = JSON.stringify(JSON.parse(text)) === text
        const found = firstSilentChange(`[${text}]`)
        return comesBack ? found === undefined : found?._tag === "InexactNumber" && found.text === text
      }
    ))
  })
})

describe("firstSilentChange", () => {
  it("says nothing of texts it has nothing to say of", () => {
    for (const text of [`1`, `"a"`, `[]`, `[1,[2,[3]]]`, `null`, `true`, `{}`, `{"a":{"a":{"a":-1.5e-3}}}`]) {
      assert.strictEqual(firstSilentChange(text), undefined, text)
    }
  })
})
