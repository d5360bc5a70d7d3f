/**
 * Preloaded into an `ai-jobs` under test (`--import`): writes `test: write
 * lock met` on stderr the first time one of its SQLite statements meets
 * another connection's write lock (SQLITE_BUSY; the store then waits and
 * tries again) — so a test knows the command waits on the lock it holds
 * (SQLite shows no waiter) before it acts. Statements run unchanged.
 */
import { createRequire } from "node:module"

const ANNOUNCEMENT = "test: write lock met"

let announced = false
const announcing = <A>(run: () => A): A => {
  try {
    return run()
  } catch (error) {
    const code = (error as { readonly code?: unknown }).code
    if (!announced && typeof code === "string" && code.startsWith("SQLITE_BUSY")) {
      announced = true
      process.stderr.write(`${ANNOUNCEMENT}\n`)
    }
    throw error
  }
}

type Method = (this: unknown, ...args: Array<unknown>) => unknown
const Database = createRequire(import.meta.url)("better-sqlite3") as {
  new(filename: string): { prepare(sql: string): object; close(): void }
  readonly prototype: Record<string, Method>
}
const memory = new Database(":memory:")
const Statement = Object.getPrototypeOf(memory.prepare("SELECT 1")) as Record<string, Method>
memory.close()
for (const [prototype, methods] of [[Statement, ["run", "all", "get", "iterate"]], [Database.prototype, ["exec"]]] as const) {
  for (const method of methods) {
    const original = prototype[method]!
    prototype[method] = function(this: unknown, ...args: Array<unknown>) {
      return announcing(() => original.apply(this, args))
    }
  }
}
