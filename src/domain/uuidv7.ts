/**
 * Time-ordered ids (UUID version 7, RFC 9562): 48 bits of Unix milliseconds,
 * then a counter, then randomness. Rows created in the same millisecond —
 * common under a test clock or a fast batch — still sort in creation order,
 * so "oldest first" listings are stable without an extra sequence column.
 */
import { randomFillSync } from "node:crypto"

let lastMs = -1
let counter = 0

/** Random bytes an id takes: the 56 bits after the counter. */
const RANDOM_BYTES = 7
/**
 * Ids per refill of the random pool: one `randomFillSync` per this many ids
 * instead of one per id (a system call each, most of an id's cost).
 */
export const IDS_PER_REFILL = 512
const pool = Buffer.alloc(RANDOM_BYTES * IDS_PER_REFILL)
let poolAt = pool.length

/** Each byte's two lowercase hex digits as ASCII codes, high digit first. */
const HEX_CODES = Uint16Array.from({ length: 256 }, (_, byte) => {
  const digits = byte.toString(16).padStart(2, "0")
  return (digits.charCodeAt(0) << 8) | digits.charCodeAt(1)
})

/**
 * An id's 36 characters are written here and read out as one string: one
 * allocation per id, where concatenating its 20 pieces made ~20 intermediate
 * strings and a flat copy of the result when it was first hashed (~600 bytes
 * an id; bench/deopts.ts, issue 16). The dashes never move.
 */
const text = Buffer.from("00000000-0000-0000-0000-000000000000", "latin1")

/** Writes `byte` as two hex digits at `at`. */
const putHex = (at: number, byte: number): void => {
  const codes = HEX_CODES[byte]!
  text[at] = codes >>> 8
  text[at + 1] = codes & 0xff
}

/** The next `RANDOM_BYTES` random bytes' offset in the pool, refilled when used up; each byte is used once. */
const nextRandom = (): number => {
  if (poolAt === pool.length) {
    randomFillSync(pool)
    poolAt = 0
  }
  const at = poolAt
  poolAt += RANDOM_BYTES
  return at
}

/** A new UUIDv7, strictly increasing within this process. */
export const uuidv7 = (): string => {
  let ms = Date.now()
  if (ms <= lastMs) {
    ms = lastMs
    counter++
    // 12 bits of rand_a plus the top 6 of rand_b hold the counter; on overflow borrow the next millisecond.
    if (counter >= 0x40000) {
      ms = lastMs + 1
      counter = 0
    }
  } else {
    counter = 0
  }
  lastMs = ms
  const r = nextRandom()
  const high = Math.floor(ms / 2 ** 32)
  putHex(0, (high >>> 8) & 0xff)
  putHex(2, high & 0xff)
  putHex(4, (ms >>> 24) & 0xff)
  putHex(6, (ms >>> 16) & 0xff)
  putHex(9, (ms >>> 8) & 0xff)
  putHex(11, ms & 0xff)
  putHex(14, 0x70 | ((counter >>> 14) & 0x0f))
  putHex(16, (counter >>> 6) & 0xff)
  putHex(19, 0x80 | (counter & 0x3f))
  putHex(21, pool[r]!)
  for (let i = 1; i < RANDOM_BYTES; i++) putHex(22 + 2 * i, pool[r + i]!)
  return text.toString("latin1", 0, 36)
}
