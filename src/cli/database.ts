/**
 * Choosing the database: `--database <path|url>`, else `DATABASE_URL`, else
 * `./data/handshake.db` (R17). The URL is checked before anything is opened,
 * and opening failures become one line naming the database (passwords hidden).
 * Commands that only read open it read-only.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import * as Options from "@effect/cli/Options"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as FlightRecorder from "../FlightRecorder.js"
import { JobStore } from "../store/JobStore.js"
import { SchemaBehind } from "../store/internal/behindSchema.js"
import { MigrationFailed } from "../store/StoreErrors.js"
import { newestSchemaVersion as newestPg } from "../store/pg/migrations.js"
import { folderWritable, isWal, notARegularFile, physicalPath, sqliteFile, writable, writeRefusal } from "../store/sqlite/fileAccess.js"
import { newestSchemaVersion as newestSqlite } from "../store/sqlite/migrations.js"
import * as Storage from "../store/DatabaseUrl.js"
import { BadInput, describeError, OperationFailed } from "./errors.js"
import { environmentNotUtf8 } from "./rawBytes.js"
import { shellWord } from "./shellWord.js"

/** The database used when neither `--database` nor `DATABASE_URL` names one. */
export const DEFAULT_DATABASE = "./data/handshake.db"

/** A `--database <path|url>` option described by `description`. */
export const databaseOptionWith = (description: string) =>
  Options.text("database").pipe(Options.withPseudoName("path|url"), Options.withDescription(description), Options.optional)

/** The `--database` option every command takes. */
export const databaseOption = databaseOptionWith(
  `SQLite file path (default ${DEFAULT_DATABASE}), sqlite:<path>, or postgres://user:pass@host:port/db. Falls back to DATABASE_URL.`
)

/** A database the operator named, checked but not yet opened. */
export interface Database {
  readonly target: Storage.DatabaseTarget
  /** Safe to print: a PostgreSQL password (in the user part or a query parameter) is replaced by `***`. */
  readonly display: string
  /**
   * The words naming it in a command printed to run later (a cut listing's read-on):
   * `--database <it>` when it was given so — a path as given, a URL with its password masked
   * (`passwordMasked`, which the operator gives again) — and none when DATABASE_URL or the
   * default named it: the same environment names it again.
   */
  readonly again: { readonly words: ReadonlyArray<string>; readonly passwordMasked: boolean }
}

/** Resolves `--database`, `DATABASE_URL` or the default into a target; a bad URL is `BadInput`. */
export const resolve = (option: Option.Option<string>): Effect.Effect<Database, BadInput> =>
  Effect.gen(function*() {
    const fromEnv = process.env["DATABASE_URL"]
    const source = Option.isSome(option) ? "--database" : fromEnv !== undefined && fromEnv !== "" ? "DATABASE_URL" : "default"
    const url = Option.getOrElse(option, () => source === "DATABASE_URL" ? fromEnv ?? "" : DEFAULT_DATABASE)
    // A Latin-1 file name in it named another file: the bytes Node read as U+FFFD.
    const notUtf8 = source === "DATABASE_URL" ? environmentNotUtf8("DATABASE_URL") : undefined
    if (notUtf8 !== undefined) return yield* new BadInput({ message: notUtf8 })
    const target = Storage.parseDatabaseUrl(url)
    if (Either.isLeft(target)) {
      // The library's message lists the accepted forms; say which input carried the bad value.
      return yield* new BadInput({ message: `bad ${source === "default" ? "database" : source}: ${target.left.message}` })
    }
    const display = target.right.dialect === "pg" ? Storage.redactDatabaseUrl(target.right.url) : physicalPath(target.right.filename)
    return {
      target: target.right,
      display: target.right.dialect === "sqlite" && target.right.filename === ":memory:" ? ":memory:" : display,
      again: Option.match(option, { onNone: () => ({ words: [], passwordMasked: false }), onSome: (given) => namedAgain(given, target.right.dialect) })
    }
  })

/** `--database <given>` as a printed command gives it again: a SQLite path as given, a URL's password masked as `display`'s is. */
const namedAgain = (given: string, dialect: Storage.DatabaseTarget["dialect"]): Database["again"] => {
  const masked = dialect === "pg" ? Storage.redactDatabaseUrl(given) : given
  return { words: ["--database", shellWord(masked)], passwordMasked: masked !== given }
}

/** How a command opens its database. */
export interface OpenOptions {
  /** Apply pending migrations while opening (migrate, demo). */
  readonly migrate: boolean
  /** Create a missing SQLite file and its folder (migrate, demo); otherwise a missing file is an error. */
  readonly create: boolean
  /** Only read (the inspection commands): nothing is migrated, and the database refuses any write. */
  readonly readonly?: boolean
  /** Accept an in-memory SQLite database (the demo): it starts empty and is gone when the command ends. */
  readonly inMemory?: boolean
}

/**
 * Lets SQLite file names be URIs (`file:...?immutable=1`, see below): only
 * the names this module makes, as the operator's `file:` names are refused.
 * better-sqlite3 reads `SQLITE_USE_URI` once, when it first opens a database:
 * call this before that.
 */
export const enableSqliteUris = (): void => {
  process.env["SQLITE_USE_URI"] ??= "1"
}

/**
 * The name to open a SQLite file read-only by. A WAL database needs a shared
 * memory file (`-shm`) beside it: when we may not write the database or its
 * folder and no connection has it open (no `-shm`), a read-only connection
 * would either fail (a read-only folder: "attempt to write a readonly
 * database") or leave `-wal`/`-shm` files behind, read-only like the
 * database, that stop its owner's next write. Then the file is opened
 * immutable (when URIs are enabled): read as it is, nothing created or
 * locked — no writer can have it open either, with no `-shm` to share.
 */
const readOnlyName = (filename: string): string => {
  if (filename === ":memory:" || process.env["SQLITE_USE_URI"] !== "1") return filename
  // SQLite keeps a linked database's -wal and -shm beside the link's target.
  const file = sqliteFile(filename)
  return (writable(file) && folderWritable(file)) || !isWal(file) || fs.existsSync(`${file}-shm`)
    ? filename
    : pendingWal(file)
    ? walSnapshot(file)
    : `${pathToFileURL(path.resolve(file)).href}?immutable=1`
}

/** Whether `filename`'s `-wal` holds anything: committed changes not yet copied into the database. */
const pendingWal = (filename: string): boolean => {
  try {
    return fs.statSync(`${filename}-wal`).size > 0
  } catch {
    return false
  }
}

/**
 * A copy of `filename` and its `-wal` in a temporary folder of its own,
 * removed as the process exits. Opened immutable, the database is read
 * without its `-wal`: changes committed there were missing from every
 * listing, silently (found by an outside probe). A copy where SQLite may
 * make its `-shm` reads them. No writer can be changing the pair meanwhile:
 * a writer needs the `-shm` that is not there.
 */
const walSnapshot = (filename: string): string => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), "ai-jobs-read-"))
  process.once("exit", () => fs.rmSync(folder, { recursive: true, force: true }))
  const copy = path.join(folder, path.basename(filename))
  fs.copyFileSync(filename, copy)
  fs.copyFileSync(`${filename}-wal`, `${copy}-wal`)
  return copy
}

/** The store for `database`. Any failure to open it — unreachable, missing, refused migration — is one `OperationFailed` line. */
export const storeLayer = (database: Database, options: OpenOptions): Layer.Layer<JobStore, OperationFailed> => {
  const { target } = database
  const prepare = Effect.suspend(() => {
    if (target.dialect === "sqlite" && target.filename === ":memory:" && options.inMemory !== true) {
      // It would start empty (unmigrated) and be gone when the command ends; read-only, SQLite refuses to open it at all.
      return Effect.fail(new OperationFailed({
        message: "an in-memory database (sqlite::memory:) starts empty and is gone when the command ends: " +
          "only ai-jobs demo can use one. Name a SQLite file or a postgres:// URL"
      }))
    }
    if (target.dialect !== "sqlite" || target.filename === ":memory:") return Effect.void
    // Opened read-only, the migrations were skipped and the schema reported as it was: `migrate` said
    // "up to date" of an empty file (found by an outside probe).
    // (A `file:` name, whose mode=ro or immutable=1 did the same, is refused as no path by the parse.)
    if (options.migrate && target.readonly === true) {
      return Effect.fail(new OperationFailed({
        message: `cannot migrate ${database.display}: mode=ro opens it read-only. Name it without that (a path or sqlite:<path>)`
      }))
    }
    // SQLite opens a named pipe or a device as a file, then waits on the pipe for ever, or
    // calls /dev/null a database to migrate: only a regular file (or none yet) can be one.
    const other = notARegularFile(target.filename)
    if (other !== undefined) {
      return Effect.fail(new OperationFailed({ message: `cannot open database ${database.display}: it is not a regular file but ${other}` }))
    }
    if (options.create && !fs.existsSync(target.filename)) {
      return Effect.try({
        try: () => void fs.mkdirSync(path.dirname(sqliteFile(target.filename)), { recursive: true }),
        catch: (error) => new OperationFailed({ message: `cannot create the folder of ${database.display}: ${describeError(error)}` })
      })
    }
    if (!fs.existsSync(target.filename)) {
      return Effect.fail(new OperationFailed({
        message: `no SQLite database at ${database.display}; create it with: ai-jobs migrate --database ${target.filename}`
      }))
    }
    // SQLite would open it anyway, read-only, and fail at the first write, after creating its WAL files beside it
    // (migrate too, an existing file: "attempt to write a readonly database").
    if (options.readonly === true) return Effect.void
    const refusal = writeRefusal(target.filename)
    return refusal === undefined ? Effect.void : Effect.fail(new OperationFailed({ message: `cannot change ${database.display}: ${refusal}` }))
  })
  const store = Layer.unwrapEffect(Effect.sync(() =>
    options.readonly === true
      ? Storage.layerFor(target.dialect === "sqlite" ? { ...target, filename: readOnlyName(target.filename) } : target, { readonly: true })
      : Storage.layerFor(target, { migrate: options.migrate })
  )).pipe(
    Layer.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause)
        ? Layer.failCause(cause as Cause.Cause<never>)
        : Layer.fail(notOpened(database, Cause.squash(cause)))
    )
  )
  const opened = Layer.unwrapEffect(Effect.as(prepare, store))
  // A store that does not migrate refuses a schema behind this version when built (`notOpened`). One that may
  // write is opened only after a read-only one was (opening for writes already changes a file: SQLite's WAL
  // mode) — after the checks that refuse a write, since even that read may create a side file.
  return options.migrate || options.readonly === true
    ? opened
    : Layer.unwrapEffect(Effect.zipRight(prepare, Effect.as(Effect.provide(Effect.void, storeLayer(database, { ...options, readonly: true })), opened)))
}

/**
 * Why the store was not opened. A store build that migrates nothing and
 * refuses the database (`MigrationFailed` with `during: "open"`: its
 * encoding) already begins "Cannot open the store…", which the line's own
 * "cannot open database …:" says: only its reason and advice are added.
 */
const whyNotOpened = (error: unknown): string =>
  describeError(error instanceof MigrationFailed && error.during === "open" ? error.cause : error)

/** What to run to bring `database` up to date. */
const migrateLine = (database: Database): string =>
  `ai-jobs migrate --database ${database.target.dialect === "sqlite" ? database.target.filename : database.display}`

/**
 * Why the store was not opened, as one line. Every command but `migrate` and
 * the demo opens without migrating; on a database never migrated (a legacy
 * Handshake one included) or migrated by an older version it would read
 * tables that are not there, or not ours — `jobs list` showed a legacy
 * database's old rows, a write failed on a missing column. The store refuses
 * it when built (store/internal/behindSchema.ts), as it refuses a newer
 * schema: that refusal is said with the `ai-jobs migrate` line that fixes it.
 */
const notOpened = (database: Database, error: unknown): OperationFailed => {
  const behind = error instanceof MigrationFailed && error.cause instanceof SchemaBehind ? error.cause : undefined
  return new OperationFailed({
    message: behind === undefined
      ? `cannot open database ${database.display}: ${whyNotOpened(error)}`
      : behind.version === 0
      ? `database ${database.display} is not migrated: create its schema (or upgrade a legacy Handshake database) first with: ${migrateLine(database)}`
      : `database ${database.display} is at schema version ${behind.version}, older than this ai-jobs (${behind.newest}): upgrade it first with: ${migrateLine(database)}`
  })
}

/**
 * The schema version of the store `database` was just migrated on, failing
 * unless it is this version's newest: `migrate` and the demo say "up to
 * date" only when it is, whatever path the open took.
 */
export const migratedVersion = (database: Database): Effect.Effect<number, OperationFailed, JobStore> =>
  Effect.gen(function*() {
    const version = yield* Effect.flatMap(JobStore, (store) => store.schemaVersion)
    const newest = yield* (database.target.dialect === "sqlite" ? newestSqlite : newestPg)
    if (version >= newest) return version
    return yield* new OperationFailed({
      message: `database ${database.display} is at schema version ${version} after migrating, not this ai-jobs' ${newest}: the migrations did not apply`
    })
  }).pipe(Effect.mapError((error) => error instanceof OperationFailed ? error : new OperationFailed({ message: `cannot open database ${database.display}: ${describeError(error)}` })))

/** The store with a Flight Recorder over it: what the inspection and maintenance commands need. */
export const recorderLayer = (
  database: Database,
  options: OpenOptions,
  config: FlightRecorder.FlightRecorderConfig = {}
): Layer.Layer<JobStore | FlightRecorder.FlightRecorder, OperationFailed> =>
  FlightRecorder.layer(config).pipe(
    Layer.mapError((error) => error instanceof OperationFailed ? error : new OperationFailed({ message: describeError(error) })),
    Layer.provideMerge(storeLayer(database, options))
  )
