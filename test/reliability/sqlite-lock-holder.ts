/**
 * Holds a SQLite file's write lock for the connection-fault tests:
 *
 *   HSK_DATABASE=jobs.db node --import tsx test/reliability/sqlite-lock-holder.ts
 *
 * Opens the file with better-sqlite3 (another process, another connection),
 * takes the write lock with `BEGIN IMMEDIATE`, says `locked`, and on a
 * `release` line from stdin rolls back and says `released`.
 */
import * as fs from "node:fs"
import * as readline from "node:readline"
import { MARK, type WorkerMessage } from "./protocol.js"
import { openSqlite } from "./snapshot.js"

const emit = (message: WorkerMessage): void => {
  fs.writeSync(1, `${MARK}${JSON.stringify(message)}\n`)
}

const filename = process.env["HSK_DATABASE"]
if (filename === undefined) throw new Error("sqlite-lock-holder: HSK_DATABASE is not set")
const db = openSqlite(filename)
db.exec("BEGIN IMMEDIATE")
emit({ t: "locked" })

const lines = readline.createInterface({ input: process.stdin })
lines.on("line", (line) => {
  if (line.trim() !== "release") return
  db.exec("ROLLBACK")
  db.close()
  emit({ t: "released" })
  process.exit(0)
})
lines.on("close", () => process.exit(0))
