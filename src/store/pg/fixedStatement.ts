/**
 * A statement whose text never changes, compiled once (issue 16): building
 * a statement with `sql`'s template and compiling it costs every call a
 * walk over its fragments and a fresh text (bench/statementPieces.ts:
 * `context.run` against `held.execute`). A fixed statement is
 * built once with a slot for each parameter and compiled once; a call only
 * puts its values in the slots' places.
 *
 * Only for statements whose shape does not depend on their values: a slot
 * is a single parameter (`${slot}`, as often as the text needs it), never a
 * list (`sql.in`, `sql.csv`) or an identifier — `fixedStatement` refuses, at
 * build time, a statement in which some slot did not compile to a parameter.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"

/** A placeholder for the value a call gives in this position. */
export interface Slot {
  readonly slot: number
}

/** The text and a call's parameters: `values[i]` goes where slot `i` was. */
export interface FixedStatement {
  readonly text: string
  readonly params: (values: ReadonlyArray<unknown>) => ReadonlyArray<unknown>
}

/** Compiles `build`'s statement once; `slots` is how many parameters a call gives. */
export const fixedStatement = (
  sql: SqlClient.SqlClient,
  slots: number,
  build: (sql: SqlClient.SqlClient, ...slots: Array<Slot>) => Statement.Statement<unknown>
): FixedStatement => {
  const made: Array<Slot> = Array.from({ length: slots }, (_, slot) => ({ slot }))
  const [text, compiled] = build(sql, ...made).compile()
  // Where each bound parameter comes from: a call's value (its slot) or a constant of the text.
  const sources = compiled.map((param) => {
    const at = made.indexOf(param as Slot)
    return at === -1 ? { constant: param } : { slot: at }
  })
  const used = sources.flatMap((source) => "slot" in source ? [source.slot] : [])
  if (new Set(used).size !== slots) {
    throw new Error(`fixedStatement: each of ${slots} slots must be a parameter of the text (found ${new Set(used).size})`)
  }
  if (sources.every((source, i) => "slot" in source && source.slot === i)) {
    return { text, params: (values) => values }
  }
  return { text, params: (values) => sources.map((source) => "slot" in source ? values[source.slot] : source.constant) }
}
