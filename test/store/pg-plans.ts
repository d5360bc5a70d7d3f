/**
 * The plans of the statements the PostgreSQL store really sends (issue 16,
 * h61): each statement is read off the real `pg` driver as the store hands
 * it over (`Client.prototype.query` wrapped, nothing mocked), then prepared
 * again on a plain connection and explained the two ways the server plans the
 * store's named statements — a custom plan (their first five executions) and
 * the generic one (after).
 */
import * as Effect from "effect/Effect"
import { createRequire } from "node:module"
import type { PgClient } from "../support/pg-database.js"

type Query = (this: object, ...args: Array<unknown>) => unknown
const require = createRequire(import.meta.url)
const pg = require("pg") as { readonly Client: { readonly prototype: { query: Query } } }
/** pg's own conversion of a parameter to the text it sends. */
const { prepareValue } = require("pg/lib/utils") as { readonly prepareValue: (value: unknown) => string | null }

/** A parameter as a SQL literal of unknown type (EXECUTE takes no parameters of its own). */
const literal = (value: unknown): string => {
  const text = prepareValue(value)
  return text === null ? "NULL" : `'${text.replaceAll("'", "''")}'`
}

export interface Sent {
  readonly text: string
  readonly values: ReadonlyArray<unknown>
}

/** `effect`, and every parameterised statement `pg` sent while it ran. */
export const sentStatements = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const proto = pg.Client.prototype
      const original = proto.query
      const sent: Array<Sent> = []
      proto.query = function(this: object, ...args: Array<unknown>) {
        const [config, values] = args
        const query = typeof config === "string"
          ? { text: config, values: values as ReadonlyArray<unknown> | undefined }
          : config as { readonly text: string; readonly values?: ReadonlyArray<unknown> }
        if (query.values !== undefined && query.values.length > 0) sent.push({ text: query.text, values: query.values })
        return original.apply(this, args)
      }
      return { proto, original, sent }
    }),
    ({ sent }) => Effect.map(effect, (value) => ({ value, sent })),
    ({ original, proto }) => Effect.sync(() => {
      proto.query = original
    })
  )

/** The statements of `sent` that `marker` names. */
export const named = (sent: ReadonlyArray<Sent>, marker: RegExp): ReadonlyArray<Sent> =>
  sent.filter((statement) => marker.test(statement.text))

export type PlanMode = "force_custom_plan" | "force_generic_plan"
export const planModes: ReadonlyArray<PlanMode> = ["force_custom_plan", "force_generic_plan"]

/** The plan of `statement` prepared afresh on `client` and explained under `mode`. */
export const planOf = (client: PgClient, statement: Sent, mode: PlanMode) =>
  Effect.promise(async () => {
    await client.query(`SET plan_cache_mode = ${mode}`)
    await client.query("DEALLOCATE ALL")
    await client.query(`PREPARE explained AS ${statement.text}`)
    const { rows } = await client.query<{ readonly "QUERY PLAN": string }>(
      `EXPLAIN EXECUTE explained(${statement.values.map(literal).join(", ")})`
    )
    return rows.map((row) => row["QUERY PLAN"]).join("\n")
  })

/** Every scan of a table in `plan`, in plan order: "Index Scan using <index> on <table>", "Seq Scan on <table>", ... */
export const tableScans = (plan: string): ReadonlyArray<string> =>
  [...plan.matchAll(/((?:Bitmap Heap|Seq|Index Only|Index|Bitmap Index|Tid) Scan(?: Backward)?)(?: using (\S+))? on (\S+)/g)]
    .map((match) => `${match[1]}${match[2] === undefined ? "" : ` using ${match[2]}`} on ${match[3]}`)
