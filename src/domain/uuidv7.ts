/**
 * Time-ordered ids (UUID version 7, RFC 9562): 48 bits of Unix milliseconds,
 * then a counter, then randomness. Rows created in the same millisecond —
 * common under a test clock or a fast batch — still sort in creation order,
 * so "oldest first" listings are stable without an extra sequence column.
 */
import { randomFillSync } from "node:crypto"

let lastMs = -1
let counter = 0

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
  const bytes = new Uint8Array(16)
  randomFillSync(bytes)
  bytes[0] = Math.floor(ms / 2 ** 40) & 0xff
  bytes[1] = Math.floor(ms / 2 ** 32) & 0xff
  bytes[2] = (ms >>> 24) & 0xff
  bytes[3] = (ms >>> 16) & 0xff
  bytes[4] = (ms >>> 8) & 0xff
  bytes[5] = ms & 0xff
  bytes[6] = 0x70 | ((counter >>> 14) & 0x0f)
  bytes[7] = (counter >>> 6) & 0xff
  bytes[8] = 0x80 | (counter & 0x3f)
  const hex = Buffer.from(bytes).toString("hex")
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}
