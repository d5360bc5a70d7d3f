/** Naming the id a batch insert could not write, the same way on every store. */
import { AlreadyExists } from "../StoreErrors.js"

/**
 * The first of `given` ids (in order) that `written` lacks: stored already,
 * or given twice (its second occurrence). `written` holds the ids an
 * `INSERT … ON CONFLICT DO NOTHING RETURNING id` gave back.
 */
export const firstTaken = (given: ReadonlyArray<string>, written: ReadonlyArray<string>): string => {
  const fresh = new Set(written.map((id) => id.toLowerCase()))
  for (const id of given) {
    if (!fresh.delete(id.toLowerCase())) return id
  }
  return "(unknown)"
}

/**
 * The first of `given` ids (in order) that is in `stored` or repeats an
 * earlier one: the id PostgreSQL's own unique violation names, so a batch
 * with both a stored id and a repeated one names the same id on every store.
 */
export const firstStoredOrRepeated = (given: ReadonlyArray<string>, stored: ReadonlySet<string>): string | undefined => {
  const seen = new Set<string>()
  for (const id of given) {
    if (seen.has(id) || stored.has(id)) return id
    seen.add(id)
  }
  return undefined
}

/**
 * `AlreadyExists` for `id`, the id a batch of `given` ids could not write:
 * marked `repeated` when the batch itself gives it twice (ids compare as
 * the stores' uuid columns do, whatever their case).
 */
export const takenInBatch = (
  entity: AlreadyExists["entity"],
  id: string,
  given: ReadonlyArray<string>
): AlreadyExists => {
  const wanted = id.toLowerCase()
  let count = 0
  for (const each of given) if (each.toLowerCase() === wanted) count++
  return new AlreadyExists(count > 1 ? { entity, id, repeated: true } : { entity, id })
}
