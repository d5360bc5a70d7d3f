/** How a migration is named to people, the way its file is: `0027`, `0027_claim_by_kind`. */

/** A migration number as its file writes it: `0026`. */
export const padded = (id: number): string => String(id).padStart(4, "0")

/** A migration as its file is named, without `.sql`: `0027_claim_by_kind`. */
export const migrationLabel = (id: number, name: string): string => `${padded(id)}_${name}`
