/**
 * A bound on how deeply input may nest. Schema decoding recurses, so a value
 * nested a few thousand levels deep would overflow the stack (a crash, not an
 * error); this check walks the value iteratively and runs first.
 */

/** The deepest nesting any decoder accepts: far beyond real payloads, far below the stack's limit. */
export const MAX_DEPTH = 64

/**
 * Whether `value` has arrays or objects nested more than `max` levels deep. Never recurses,
 * never throws: a part that throws when read (a caller's getter, a Proxy trap) is skipped here,
 * for the decoder that reads it next to refuse.
 */
export const nestedDeeperThan = (value: unknown, max: number = MAX_DEPTH): boolean => {
  const stack: Array<readonly [unknown, number]> = [[value, 0]]
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!
    if (typeof current !== "object" || current === null) continue
    if (depth >= max) return true
    try {
      for (const child of Array.isArray(current) ? current : Object.values(current)) stack.push([child, depth + 1])
    } catch {
      // Skipped: the decoder reads it next and refuses it.
    }
  }
  return false
}

/**
 * The guard on a whole job or job request. Its payloads (`job_inputs`…) are
 * JSON bounded at `MAX_DEPTH` by `Json`, which names the field; the request
 * around them is a level of its own, so guarding the whole at `MAX_DEPTH`
 * refused `job_inputs` nested exactly 64 deep, naming no field.
 */
export const MAX_JOB_DEPTH = 2 * MAX_DEPTH

/** The message every decoder gives for input nested past `max` levels. */
export const tooDeep = (max: number): string => `Nested more than ${max} levels deep`

/** The message for input nested past `MAX_DEPTH`. */
export const tooDeepMessage = tooDeep(MAX_DEPTH)
