/**
 * R17 the CLI's text at a narrow width (src/cli/layout.ts `wrap`): words
 * wrap, a word longer than a line is broken, but an id is never cut in two —
 * found by a user audit at `COLUMNS=30`, where `jobs show` split a trace id
 * over two lines and neither half could be pasted back as an id.
 */
import { assert, describe, it } from "@effect/vitest"
import { wrap } from "../../src/cli/layout.js"

const ID = "01a23b1d-7f4b-7000-8053-85297494da13"

describe("R17 wrapping the CLI's text", () => {
  it("R17 an id longer than the room left keeps its line whole; the rest still fits the width", () => {
    const wrapped = wrap(`trace ${ID}, then some words after it`, 30, { indent: "  ", hang: "    " }).split("\n")
    assert.deepStrictEqual(wrapped, ["  trace", `    ${ID},`, "    then some words after it"])
    for (const line of wrapped) if (!line.includes(ID)) assert.isAtMost(line.length, 30)
  })

  it("R17 a long word that is not an id is still broken where the line ends", () => {
    assert.deepStrictEqual(wrap("x".repeat(25), 10).split("\n"), ["x".repeat(10), "x".repeat(10), "x".repeat(5)])
    // Almost an id (one digit short) is a plain word.
    assert.deepStrictEqual(wrap(ID.slice(1), 20).split("\n"), [ID.slice(1, 21), ID.slice(21)])
  })
})
