/**
 * A statement whose text is the same on every call, compiled once (issue
 * 16): built with a stand-in for each value, so a call only puts its values
 * in the stand-ins' places among the parameters — no template built, no
 * fragments walked, no `compile` a call (a heartbeat's statement allocated
 * ~2 KB and a walk of its fragments on every beat). Constants the template
 * holds as parameters keep their places. Every value must be a plain
 * parameter of the template (not a fragment, a list or a literal): each
 * stand-in must come out as a parameter (once or more, a value used twice is
 * two), or this throws as the store is built.
 */
import type * as Statement from "@effect/sql/Statement"

export interface FixedStatement<Values extends ReadonlyArray<unknown>> {
  readonly text: string
  /** The statement's parameters for `values`, in its placeholders' order. */
  readonly params: (...values: Values) => ReadonlyArray<unknown>
}

export const fixedStatement = <Values extends ReadonlyArray<unknown>>(
  count: Values["length"],
  build: (...standIns: Values) => Statement.Statement<unknown>
): FixedStatement<Values> => {
  const standIns = Array.from({ length: count }, (_, i) => `\u0000stand-in ${i}\u0000`)
  const [text, compiled] = build(...(standIns as unknown as Values)).compile()
  const places = compiled.map((param) => standIns.indexOf(param as string))
  for (let i = 0; i < count; i++) {
    if (!places.includes(i)) throw new Error(`fixedStatement: value ${i} is not one parameter of: ${text}`)
  }
  return {
    text,
    params: (...values) => places.map((place, i) => place >= 0 ? values[place] : compiled[i])
  }
}

/**
 * Statements whose text varies with a few options (a kinds list, a batch
 * size): `make`'s statement for each `key` compiled once and kept, at most
 * `limit` of them — a caller with ever new options only compiles again (the
 * map is emptied when full), it never grows without bound.
 */
export const fixedPerKey = <Options extends ReadonlyArray<unknown>, Values extends ReadonlyArray<unknown>>(
  limit: number,
  key: (...options: Options) => string,
  make: (...options: Options) => FixedStatement<Values>
): (...options: Options) => FixedStatement<Values> => {
  const kept = new Map<string, FixedStatement<Values>>()
  return (...options) => {
    const name = key(...options)
    const known = kept.get(name)
    if (known !== undefined) return known
    if (kept.size >= limit) kept.clear()
    const made = make(...options)
    kept.set(name, made)
    return made
  }
}
