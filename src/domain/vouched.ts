/**
 * Values the library validated itself, so a boundary that would decode them
 * again (the JobStore port, store/internal/portInput.ts) can take them as
 * they are.
 *
 * The mark is membership of a module-private `WeakSet`: only the code that
 * built and checked a value can add it, and a caller's plain object — a
 * copy, a spread, a value of the same shape — is never in it, so it meets
 * the full decode. A vouched value is frozen (plain objects and arrays, all
 * the way down) when it is vouched: a change after the check would throw
 * instead of slipping past it. Objects of other classes (a `DateTime`, which
 * caches its parts on itself) are not frozen; a boundary checks those itself.
 */

const vouched = new WeakSet<object>()

const isPlain = (value: object): boolean => {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null || Array.isArray(value)
}

/** Freezes `value`'s plain objects and arrays, depth first. Library values are shallow (depth is bounded where they are built). */
const freezePlain = (value: unknown): void => {
  if (typeof value !== "object" || value === null || Object.isFrozen(value) || !isPlain(value)) return
  Object.freeze(value)
  for (const child of Array.isArray(value) ? value : Object.values(value)) freezePlain(child)
}

/**
 * Marks `value` as validated by the library and freezes its plain parts.
 * Only for values the library built from checked parts, never for a
 * caller's. Returns `value`.
 */
export const vouch = <A extends object>(value: A): A => {
  Object.freeze(value)
  for (const child of Object.values(value)) freezePlain(child)
  vouched.add(value)
  return value
}

/** Whether `value` is one the library vouched for (see `vouch`). */
export const isVouched = (value: unknown): boolean =>
  typeof value === "object" && value !== null && vouched.has(value)
