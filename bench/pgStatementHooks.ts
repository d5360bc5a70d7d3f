/**
 * Hooks on the `pg` driver for the pickup tools (pickupSteps, pickupWindows,
 * pickupPhases): a callback when a statement is handed to a client, and when
 * its answer is read — the rows' description, and the server ready for the
 * next statement. Installed once per process, on the one `pg` module every
 * checkout shares (their node_modules are the same link), before any client
 * is made. The callbacks get the statement's text, so a tool takes its time
 * first and names the statement after.
 */
import * as Pg from "pg"

export interface StatementHooks {
  readonly sent?: (text: unknown) => void
  readonly rows?: (text: unknown) => void
  readonly ready?: (text: unknown) => void
}

type Handler = (this: { readonly text?: unknown }, ...args: Array<unknown>) => unknown

/** Wraps `pg`'s `Client.query` and its query's answer handlers to call `hooks`. */
export const hookStatements = (hooks: StatementHooks): void => {
  const sent = hooks.sent
  if (sent !== undefined) {
    const query = Pg.Client.prototype.query
    Pg.Client.prototype.query = function(this: Pg.Client, ...args: Array<unknown>) {
      sent(typeof args[0] === "string" ? args[0] : (args[0] as { readonly text?: unknown } | undefined)?.text)
      return (query as (...a: Array<unknown>) => unknown).apply(this, args)
    } as typeof query
  }
  const queryPrototype = (Pg as unknown as { readonly Query: { readonly prototype: Record<string, Handler> } }).Query.prototype
  for (const [method, hook] of [["handleRowDescription", hooks.rows], ["handleReadyForQuery", hooks.ready]] as const) {
    if (hook === undefined) continue
    const original = queryPrototype[method]!
    queryPrototype[method] = function(this: { readonly text?: unknown }, ...args: Array<unknown>) {
      hook(this.text)
      return original.apply(this, args)
    }
  }
}

/**
 * A labeller for statement marks: the first words of a statement's text,
 * computed once per text (a regex over kB of text costs ~50 µs for the
 * claim's), so a mark neither includes it nor delays the driver by it.
 */
export const statementLabels = (length: number): (text: unknown) => string => {
  const labels = new Map<unknown, string>()
  return (text) => {
    let label = labels.get(text)
    if (label === undefined) labels.set(text, label = String(text ?? "").replace(/\s+/g, " ").trim().slice(0, length))
    return label
  }
}
