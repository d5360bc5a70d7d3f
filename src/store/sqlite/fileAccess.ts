/**
 * What this process may do with a SQLite file and the journal files SQLite
 * keeps beside it (`-wal` and `-shm` in WAL mode, else `-journal`), from the
 * file system: the words of an open that SQLite refused ("attempt to write a
 * readonly database" says neither which file nor what to do). Read only on a
 * failure path, and once per open: by the store before it opens a file
 * (`notARegularFile`; `cannotWrite` when it opens an existing file for
 * writes), and by the CLI before it opens a file (src/cli/database.ts).
 */
import * as fs from "node:fs"
import * as path from "node:path"

/** Whether a SQLite file is in WAL mode: its header's read and write versions are 2. */
export const isWal = (filename: string): boolean => {
  try {
    const header = Buffer.alloc(20)
    const fd = fs.openSync(filename, "r")
    try {
      fs.readSync(fd, header, 0, 20, 0)
    } finally {
      fs.closeSync(fd)
    }
    return header.toString("latin1", 0, 16) === "SQLite format 3\0" && header[18] === 2 && header[19] === 2
  } catch {
    return false
  }
}

const may = (filename: string, mode: number): boolean => {
  try {
    fs.accessSync(filename, mode)
    return true
  } catch {
    return false
  }
}

/**
 * What `filename` is when it exists and is not a regular file (symbolic links
 * followed): `a directory`, `a named pipe`, `a socket` or `a device`; else
 * undefined. SQLite opens a named pipe as a file and then waits on it for
 * ever, blocking the process (read-only, even a timeout never fires), and
 * reads `/dev/zero` or `/dev/null` as an empty database: only a regular file
 * (or none yet) can be one. One `stat` per open.
 */
export const notARegularFile = (filename: string): string | undefined => {
  let stats: fs.Stats
  try {
    stats = fs.statSync(filename)
  } catch {
    return undefined
  }
  if (stats.isFile()) return undefined
  return stats.isDirectory() ? "a directory" : stats.isFIFO() ? "a named pipe" : stats.isSocket() ? "a socket" : "a device"
}

/**
 * The file SQLite opens for `filename`: its unix VFS follows symbolic links
 * and keeps the journal files beside the link's target, so the folder and the
 * `-wal`/`-shm` to ask about are the target's (a link in a read-only folder to
 * a database in a writable one is writable). Resolved as the kernel resolves
 * it (`realpath(3)`): Node's own `realpathSync` reads a `..` after a linked
 * folder as text first (`d/../jobs.db`, `d` a link to `x/y`, is `x/jobs.db`,
 * not `./jobs.db`), and the check then asked about another file. A file not
 * there yet: the target of a dangling link (SQLite creates it there) in its
 * folder, resolved; the name as given when even that folder is missing.
 */
export const sqliteFile = (filename: string): string => {
  try {
    return fs.realpathSync.native(filename)
  } catch {
    // Not there (or a loop): follow dangling links by hand, each joined as text the kernel will resolve.
    let name = filename
    for (let hops = 0; hops < 40; hops++) {
      let target: string
      try {
        target = fs.readlinkSync(name)
      } catch {
        break
      }
      name = path.isAbsolute(target) ? target : `${path.dirname(name)}/${target}`
    }
    try {
      return path.join(fs.realpathSync.native(path.dirname(name)), path.basename(name))
    } catch {
      return name
    }
  }
}

/**
 * `filename` as an absolute path the kernel would open, its folder resolved
 * physically and its own name kept (a link stays the link): for messages, and
 * for the folder to create. `path.resolve` reads `..` as text.
 */
export const physicalPath = (filename: string): string => {
  // The longest leading part that exists, resolved; the parts after it (not there yet, so no links) as given.
  const rest: Array<string> = [path.basename(filename)]
  for (let folder = path.dirname(filename), depth = 0; depth < 64; folder = path.dirname(folder), depth++) {
    try {
      return path.join(fs.realpathSync.native(folder), ...rest)
    } catch {
      if (folder === path.dirname(folder)) break
      rest.unshift(path.basename(folder))
    }
  }
  return path.resolve(filename)
}

/** Whether this process may write `filename`. */
export const writable = (filename: string): boolean => may(filename, fs.constants.W_OK)

/**
 * Whether files may be created beside `file` (SQLite's `-wal`, `-shm` and
 * `-journal`). `file` is the file SQLite opens (`sqliteFile`): the functions
 * below take it resolved, and those exported for a name resolve it once.
 */
export const folderWritable = (file: string): boolean => may(path.dirname(path.resolve(file)), fs.constants.W_OK | fs.constants.X_OK)

/**
 * Why SQLite could not change `file` though the file itself is writable:
 * its folder is read-only, and the journal it writes beside the file (`-wal`
 * and `-shm` in WAL mode, else `-journal`) is not there to reuse.
 */
const folderRefusal = (file: string): string | undefined =>
  folderWritable(file) || (isWal(file) && writable(`${file}-wal`) && writable(`${file}-shm`))
    ? undefined
    : "its folder is read-only, and SQLite writes its journal files beside the database"

/**
 * Why SQLite could not change `file` though the file itself is writable:
 * a journal file beside it (`-wal`, `-shm`, `-journal`) is there and
 * read-only. SQLite opened it and failed at the first write or read of it.
 */
const sideFileRefusal = (file: string): string | undefined => {
  // A WAL database never reads or writes a `-journal` (one left by an earlier journal mode stays as it is).
  const suffixes = isWal(file) ? ["-wal", "-shm"] : ["-wal", "-shm", "-journal"]
  const side = suffixes.map((suffix) => `${file}${suffix}`).find((name) => fs.existsSync(name) && !writable(name))
  return side === undefined ? undefined : `its journal file ${path.basename(side)} beside it is read-only`
}

const writeRefusalOf = (file: string): string | undefined =>
  writable(file) ? sideFileRefusal(file) ?? folderRefusal(file) : "the file is read-only"

/** Why this process cannot write `filename`, or undefined when nothing on the file system says so. */
export const writeRefusal = (filename: string): string | undefined => writeRefusalOf(sqliteFile(filename))

/**
 * Why a read-only connection cannot read `file`, or undefined when
 * nothing on the file system says so. A WAL database is read through its
 * shared-memory file (`-shm`, https://www.sqlite.org/wal.html, "read-only
 * databases"): one that is not there must be created, and a folder this
 * process may not write cannot take it. (Reading the file as immutable
 * instead would be wrong as soon as anyone writes it: SQLite would take no
 * lock, miss every later commit and read pages a checkpoint is rewriting.)
 */
const readRefusal = (file: string): string | undefined => {
  if (!fs.existsSync(file)) return "there is no such file"
  if (!may(file, fs.constants.R_OK)) return "the file is not readable"
  if (!isWal(file)) return undefined
  const shm = `${file}-shm`
  if (fs.existsSync(shm)) return may(shm, fs.constants.R_OK) ? undefined : `its shared-memory file ${path.basename(shm)} beside it is not readable`
  return folderWritable(file)
    ? undefined
    : `it is a WAL database, read through a shared-memory file ${path.basename(shm)} beside it, and none is there ` +
      "(no connection has it open) nor can be made (the folder is read-only): read it while a process that may " +
      "write it has it open, let this process write the folder, or read a copy"
}

/** The SQLite result code (`SQLITE_READONLY_DIRECTORY`, …) of `error` or of one of its causes. */
const sqliteCode = (error: unknown): string | undefined => {
  let current: unknown = error
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { readonly code?: unknown }).code
    if (typeof code === "string" && code.startsWith("SQLITE_")) return code
    current = (current as { readonly cause?: unknown }).cause
  }
  return undefined
}

/**
 * Why opening `filename` failed, in words naming what stops this process,
 * when `error` is SQLite's refusal to open, read or write it (a
 * `SQLITE_READONLY…`, `SQLITE_CANTOPEN…` or `SQLITE_PERM` code) and the file
 * system says why; else undefined. The error keeps SQLite's `code`.
 */
export const openRefusal = (filename: string, readonly: boolean, error: unknown): Error | undefined => {
  const code = sqliteCode(error)
  if (code === undefined || !/^SQLITE_(READONLY|CANTOPEN|PERM)/.test(code)) return undefined
  const file = sqliteFile(filename)
  if (readonly) {
    const cannotRead = readRefusal(file)
    return cannotRead === undefined ? undefined : Object.assign(new Error(`this process cannot read it: ${cannotRead}`), { code })
  }
  if (!fs.existsSync(file)) {
    const folder = path.dirname(file)
    if (!fs.existsSync(folder)) return Object.assign(new Error(`there is no such file, nor its folder ${folder}`), { code })
    return folderWritable(file) ? undefined : Object.assign(new Error(`there is no such file, and its folder ${folder} is read-only`), { code })
  }
  const refusal = cannotWriteOf(file)
  return refusal === undefined ? undefined : Object.assign(refusal, { code })
}

const cannotWriteOf = (file: string): Error | undefined => {
  const refusal = writeRefusalOf(file)
  // SQLite opens a database for writing read-write: a file it may write but not read is no better.
  if (refusal === undefined) return may(file, fs.constants.R_OK) ? undefined : new Error("this process cannot read it: the file is not readable")
  const cannotRead = readRefusal(file)
  return new Error(
    `this process cannot write it: ${refusal}` +
      (cannotRead === undefined ? "; open it with readonly: true (sqlite:<path>?mode=ro) to read it" : `; nor read it: ${cannotRead}`)
  )
}

/**
 * Why this process cannot write the existing file `filename` (the file, a
 * journal file beside it, or its folder), with what it can do instead (open
 * it read-only) or why it cannot read it either; undefined when the file
 * system says nothing stops a write. The store asks once before a writable
 * open of an existing file: on an up-to-date WAL database nothing writes
 * while it opens, so SQLite's refusal came only at the first submit.
 */
export const cannotWrite = (filename: string): Error | undefined => cannotWriteOf(sqliteFile(filename))
