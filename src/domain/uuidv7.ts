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

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"))

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
  return HEX[(high >>> 8) & 0xff]! + HEX[high & 0xff]! + HEX[(ms >>> 24) & 0xff]! + HEX[(ms >>> 16) & 0xff]! + "-" +
    HEX[(ms >>> 8) & 0xff]! + HEX[ms & 0xff]! + "-" +
    HEX[0x70 | ((counter >>> 14) & 0x0f)]! + HEX[(counter >>> 6) & 0xff]! + "-" +
    HEX[0x80 | (counter & 0x3f)]! + HEX[pool[r]!]! + "-" +
    HEX[pool[r + 1]!]! + HEX[pool[r + 2]!]! + HEX[pool[r + 3]!]! + HEX[pool[r + 4]!]! + HEX[pool[r + 5]!]! + HEX[pool[r + 6]!]!
}
