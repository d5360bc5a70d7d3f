/**
 * Our PostgreSQL lifecycle's statements sent raw (issue 16): the floor under
 * the store. `captureLifecycle` runs one lifecycle through Jobs (submit,
 * claim, heartbeat, complete, every audit event) and records each statement
 * as the store handed it to `pg` — text and parameters; `replayer` sends the
 * same texts as named prepared statements on one plain `pg` client, each job
 * with fresh ids (every UUID of the capture mapped to a new one, inside JSON
 * texts too) and the capture's instants moved to now. What is left is the
 * server's work, the round trips and commits, and `pg`'s own — nothing of
 * ours on top: the best one worker of this schema can do.
 */
import { createHash } from "node:crypto"
import * as Pg from "pg"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { uuidv7 } from "../src/domain/uuidv7.js"
import { servicesLayer } from "./app.js"
import { connectPg } from "./drivers.js"
import { oneLifecycle } from "./lifecycle.js"

/** One statement as the store handed it to `pg`. */
export interface Captured {
  readonly text: string
  readonly values: ReadonlyArray<unknown>
}

/** A UUID, or an ISO instant: the parts of a parameter a replayed job gets anew. */
export const FRESH = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})|(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)/gi

/**
 * The statements one lifecycle through Jobs sends on the database at `url`
 * (migrated by the first, warm-up lifecycle). `pg`'s `Client.prototype.query`
 * is wrapped for the captured lifecycle only, and records only clients of
 * that database.
 */
export const captureLifecycle = async (url: string): Promise<ReadonlyArray<Captured>> => {
  const runtime = ManagedRuntime.make(servicesLayer({ dialect: "pg", url }))
  const query = Pg.Client.prototype.query
  const captured: Array<Captured> = []
  try {
    await runtime.runPromise(oneLifecycle)
    const database = new URL(url).pathname.slice(1)
    Pg.Client.prototype.query = function(this: Pg.Client, ...args: Array<unknown>) {
      // Only the capture database's: another system's client in the process (a peer's timers) is not ours.
      if (this.database !== database) return (query as (...a: Array<unknown>) => unknown).apply(this, args)
      const [first, second] = args
      const config = typeof first === "string" ? { text: first, values: second } : first as { readonly text?: unknown; readonly values?: unknown }
      if (typeof config.text === "string") {
        captured.push({ text: config.text, values: Array.isArray(config.values) ? [...config.values as Array<unknown>] : [] })
      }
      return (query as (...a: Array<unknown>) => unknown).apply(this, args)
    } as typeof query
    await runtime.runPromise(oneLifecycle)
  } finally {
    Pg.Client.prototype.query = query
    await runtime.dispose()
  }
  if (captured.length === 0) throw new Error("captureLifecycle: no statement captured")
  return captured
}

/** A parameter split once into literal text and the ids and instants a replayed job replaces. */
type Template = { readonly kind: "as-is"; readonly value: unknown } | { readonly kind: "text"; readonly parts: ReadonlyArray<string> }

const template = (value: unknown): Template => {
  if (typeof value !== "string") return { kind: "as-is", value }
  // split with two capture groups: literal, uuid-or-undefined, instant-or-undefined, literal, ...
  const pieces = value.split(FRESH)
  const parts: Array<string> = []
  for (let i = 0; i < pieces.length; i += 3) {
    parts.push(pieces[i]!)
    if (i + 1 < pieces.length) parts.push(pieces[i + 1] !== undefined ? `u:${pieces[i + 1]!.toLowerCase()}` : "t:")
  }
  return parts.length === 1 ? { kind: "as-is", value } : { kind: "text", parts }
}

/**
 * A plain `pg` client on `url` (already migrated) that replays `statements`
 * as one lifecycle per `one()` call; `close` ends the client.
 */
export const replayer = async (url: string, statements: ReadonlyArray<Captured>) => {
  const client = await connectPg(url)
  const prepared = statements.map((s) => ({
    text: s.text,
    name: `replay_${createHash("sha1").update(s.text).digest("hex").slice(0, 16)}`,
    values: s.values.map(template)
  }))
  const one = async () => {
    const ids = new Map<string, string>()
    const now = new Date().toISOString()
    for (const s of prepared) {
      const values = s.values.map((t) => {
        if (t.kind === "as-is") return t.value
        let out = ""
        for (let i = 0; i < t.parts.length; i++) {
          const part = t.parts[i]!
          if (i % 2 === 0) out += part
          else if (part === "t:") out += now
          else {
            let fresh = ids.get(part)
            if (fresh === undefined) ids.set(part, fresh = uuidv7())
            out += fresh
          }
        }
        return out
      })
      await client.query(values.length === 0 ? s.text : { name: s.name, text: s.text, values })
    }
  }
  /** Whether every replayed job really went through: none left queued or running, five records each. */
  const check = async () => {
    const row = (await client.query<{ unfinished: string; jobs: string; events: string }>(
      `SELECT (SELECT count(*) FROM ai_jobs WHERE status <> 'completed') AS unfinished,
              (SELECT count(*) FROM ai_jobs) AS jobs, (SELECT count(*) FROM flight_recorder_events) AS events`
    )).rows[0]!
    const [unfinished, jobs, events] = [Number(row.unfinished), Number(row.jobs), Number(row.events)]
    if (unfinished !== 0 || events !== jobs * 5) {
      throw new Error(`pgReplay: ${unfinished} of ${jobs} replayed jobs unfinished, ${events} records (expected ${jobs * 5})`)
    }
    return jobs
  }
  return { one, client, check, close: () => client.end() }
}
