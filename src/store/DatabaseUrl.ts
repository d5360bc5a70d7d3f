/**
 * Choosing storage by one URL (R17): a file path or `sqlite:` URL for SQLite,
 * `postgres://` / `postgresql://` for PostgreSQL.
 */
import * as fs from "node:fs"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as ConfigError from "effect/ConfigError"
import type { JobStore } from "./JobStore.js"
import * as PgStore from "./PgJobStore.js"
import * as SqliteStore from "./SqliteJobStore.js"
import { type MigrationFailed, StorageError } from "./StoreErrors.js"
import { unknownStoreOptions } from "./internal/storageError.js"
import { FILE_URI_REFUSAL, isFileUri } from "./sqlite/fileUri.js"
import { escapeUnstorable, isStorable } from "../domain/Text.js"
import { URL_PASSWORD } from "../util/urlPassword.js"

/** Query parameters of a PostgreSQL URL that carry a secret (libpq's and node-postgres's). */
const SECRET_PARAMETERS: ReadonlySet<string> = new Set(["password", "sslpassword"])

/**
 * `url` safe to print: a password — in the user part (`user:pw@`) or as a
 * query parameter (`?password=`, `?sslpassword=`, which the driver reads
 * too) — replaced by `***`. A text that is no URL is masked the same way by
 * pattern, since an unparsable URL is exactly what an error message quotes.
 */
export const redactDatabaseUrl = (url: string): string => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return maskedByPattern(url)
  }
  // No user read, yet `//x:…@` written: a password holding `/`, `?` or `#` (not percent-encoded) ended
  // the parser's authority early — `app:12/Kq@host` read as host app, port 12 — and is masked by pattern.
  if (parsed.username === "" && parsed.password === "") {
    const masked = maskedByPattern(url)
    if (masked !== url) return masked
  }
  const secrets = [...parsed.searchParams.keys()].filter((key) => SECRET_PARAMETERS.has(key.toLowerCase()))
  // Untouched when there is nothing to hide: a URL's own spelling is what its owner recognises.
  if (parsed.password === "" && secrets.length === 0) return url
  if (parsed.password !== "") parsed.password = "***"
  for (const key of secrets) parsed.searchParams.set(key, "***")
  return parsed.toString()
}

// `//user:`, then the password up to its `@` (URL_PASSWORD, as the recorder's url-password rule reads it).
const userPassword = new RegExp(String.raw`(\/\/[^\s/?#@:]*:)${URL_PASSWORD}@`)

/**
 * `url`'s password masked by pattern, for a text no URL parser reads as its
 * owner meant: from `//user:` to the first `@` followed by a host — a
 * password may hold `/`, `?`, `#` and `@` unencoded (`ab@cd@host`: `cd` runs
 * into an `@`, no host), and an `@` in the path or query (`?x=a@b`) is no
 * password's — and the value of a password parameter.
 */
const maskedByPattern = (url: string): string =>
  url
    .replace(userPassword, "$1***@")
    .replace(/([?&](?:ssl)?password=)[^&#]*/gi, "$1***")

/** A database URL this library cannot use. Its `url` is as given, a password in it masked (`redactDatabaseUrl`). */
export class UnsupportedDatabaseUrl extends Schema.TaggedError<UnsupportedDatabaseUrl>()("UnsupportedDatabaseUrl", {
  url: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Unsupported database ${JSON.stringify(this.url)}: ${this.reason}. ` +
      "Use a SQLite file path (./data/handshake.db), sqlite:<path>[?mode=rwc|rw|ro|memory], sqlite::memory:, or postgres://user@host:port/db"
  }
}

/** The refusal of `url`, its password masked: the error's fields and message reach logs and terminals. */
const unsupported = (fields: { readonly url: string; readonly reason: string }): UnsupportedDatabaseUrl =>
  new UnsupportedDatabaseUrl({ url: redactDatabaseUrl(fields.url), reason: fields.reason })

/**
 * Where a URL points. A `sqlite:` URL's path is percent-decoded (a bare
 * path is taken as written), and its `?mode=` (as sqlx reads both, the
 * reference's driver) says how: `rwc` (the default) creates the file, `rw`
 * opens only one that exists (`mustExist`), `ro` opens it read-only,
 * `memory` is an in-memory database.
 */
export type DatabaseTarget =
  | { readonly dialect: "sqlite"; readonly filename: string; readonly readonly?: true; readonly mustExist?: true }
  | { readonly dialect: "pg"; readonly url: string }

/**
 * A `sqlite:` URL's path as a file name: its percent escapes decoded, as
 * sqlx decodes them (`%20` a space, `%3F` the `?` that would otherwise start
 * the query, `%25` a `%`); `:memory:` written as is is sqlx's in-memory
 * database, written with escapes a file of that name. Undefined for a `%`
 * that is no escape (sqlx would keep it as written: a guess at what was
 * meant) or escapes that are no UTF-8 text, as sqlx refuses those.
 */
const decodedPath = (path: string): string | undefined => {
  if (path === ":memory:") return path
  let decoded: string
  try {
    decoded = decodeURIComponent(path)
  } catch {
    return undefined
  }
  return decoded === ":memory:" ? "./:memory:" : decoded
}

/** The SQLite target of a `sqlite:` URL's path and query (`mode` its one parameter), or why not. */
const sqliteTarget = (url: string, rest: string): Either.Either<DatabaseTarget, UnsupportedDatabaseUrl> => {
  const at = rest.indexOf("?")
  const filename = decodedPath(at < 0 ? rest : rest.slice(0, at))
  if (filename === undefined) {
    return Either.left(unsupported({
      url,
      reason: "its path holds a % that starts no escape (%XX, two hex digits; a % itself is %25) or escapes that are no UTF-8 text"
    }))
  }
  // %00 would end the name early (another file opened): refused as a raw U+0000 is.
  if (!isStorable(filename)) return Either.left(unsupported({ url, reason: "its path decodes to U+0000" }))
  if (isFileUri(filename)) return Either.left(unsupported({ url, reason: FILE_URI_REFUSAL }))
  const query = new URLSearchParams(at < 0 ? "" : rest.slice(at + 1))
  const unknown = [...query.keys()].find((key) => key !== "mode")
  if (unknown !== undefined) {
    return Either.left(unsupported({ url, reason: `its parameter ${unknown} is not supported (only mode=rwc|rw|ro|memory)` }))
  }
  // `mode=memory&mode=rw`: which one was meant? Refused rather than guessed.
  if (query.getAll("mode").length > 1) return Either.left(unsupported({ url, reason: "it gives mode more than once" }))
  const mode = query.get("mode")
  if (mode === "memory") return Either.right({ dialect: "sqlite", filename: ":memory:" })
  if (filename === "") return Either.left(unsupported({ url, reason: "it names no file" }))
  switch (mode) {
    case null:
    case "rwc":
      return Either.right({ dialect: "sqlite", filename })
    case "rw":
      return Either.right({ dialect: "sqlite", filename, mustExist: true })
    case "ro":
      return Either.right({ dialect: "sqlite", filename, readonly: true })
    default:
      return Either.left(unsupported({ url, reason: `mode=${mode} is not one of rwc, rw, ro, memory` }))
  }
}

/** Parses a database URL or path without touching the database. */
export const parseDatabaseUrl = (url: string): Either.Either<DatabaseTarget, UnsupportedDatabaseUrl> => {
  if (typeof url !== "string") return Either.left(unsupported({ url: String(typeof url), reason: "it is not text" }))
  const text = url.trim()
  if (text === "") return Either.left(unsupported({ url, reason: "it is empty" }))
  // A file name ends at U+0000 (another file opened), a lone surrogate is replaced: neither is a name.
  if (!isStorable(text)) return Either.left(unsupported({ url: escapeUnstorable(url), reason: "it holds U+0000 or a lone surrogate" }))
  if (/^postgres(ql)?:\/\//i.test(text)) {
    try {
      const parsed = new URL(text)
      if (parsed.hostname === "" && !parsed.searchParams.has("host")) {
        return Either.left(unsupported({ url, reason: "it names no host" }))
      }
    } catch {
      return Either.left(unsupported({ url, reason: "it is not a valid URL" }))
    }
    return Either.right({ dialect: "pg", url: text })
  }
  if (/^sqlite:/i.test(text)) return sqliteTarget(url, text.replace(/^sqlite:(\/\/)?/i, ""))
  if (isFileUri(text)) return Either.left(unsupported({ url, reason: FILE_URI_REFUSAL }))
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    return Either.left(unsupported({ url, reason: `the scheme ${text.split(":")[0]} is not supported` }))
  }
  return Either.right({ dialect: "sqlite", filename: text })
}

/** Options of the store a URL names. */
export interface StorageOptions {
  /** Apply pending migrations when the layer is built. Default true; never when `readonly`. */
  readonly migrate?: boolean | undefined
  /** PostgreSQL only: see `PgStoreOptions.connectTimeout` (default 10 s). */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** PostgreSQL only: see `PgStoreOptions.statementTimeout` (default 60 s). */
  readonly statementTimeout?: Duration.DurationInput | undefined
  /** Open the database read-only: nothing is migrated and any write fails (see each store's option). */
  readonly readonly?: boolean | undefined
  /** SQLite only: what a commit survives, "full" (default) or "normal" — see `SqliteStoreOptions.durability`. */
  readonly durability?: SqliteStore.SqliteDurability | undefined
}

/** Why building a store layer can fail. */
export type StorageLayerError = MigrationFailed | StorageError | ConfigError.ConfigError

/** The options `StorageOptions` names. */
const STORAGE_OPTIONS: ReadonlyArray<string> = ["migrate", "connectTimeout", "statementTimeout", "readonly", "durability"]

/** The store for a target. */
export const layerFor = (target: DatabaseTarget, options: StorageOptions = {}): Layer.Layer<JobStore, StorageLayerError> => {
  // A misspelt key is refused on both dialects alike, before anything is opened (SQLite's
  // options are copied one by one below, where a misspelt one would be dropped).
  const refused = unknownStoreOptions(options, STORAGE_OPTIONS, "StorageOptions", "Storage.layerFor")
  if (refused !== undefined) return Layer.fail(refused)
  // PostgreSQL's durability is the server's (synchronous_commit); the option is SQLite's alone.
  const { durability: _sqliteOnly, ...pgOptions } = options
  if (target.dialect === "pg") return PgStore.layer({ url: target.url, ...pgOptions })
  const readonly = options.readonly ?? target.readonly
  const sqlite = SqliteStore.layer({
    filename: target.filename,
    ...(options.migrate === undefined ? {} : { migrate: options.migrate }),
    ...(readonly === undefined ? {} : { readonly }),
    ...(options.durability === undefined ? {} : { durability: options.durability })
  })
  if (target.mustExist !== true) return sqlite
  // mode=rw: an existing database only, never a new empty file.
  return Layer.unwrapEffect(Effect.suspend(() =>
    fs.existsSync(target.filename) ? Effect.succeed(sqlite) : Effect.fail(
      new StorageError({
        operation: `SqliteStore.open ${JSON.stringify(target.filename)}`,
        cause: new Error(`no SQLite database at ${target.filename} (mode=rw opens an existing one only; mode=rwc creates it)`)
      })
    )
  ))
}

/** The store a URL names (R17): SQLite for paths and `sqlite:` URLs, PostgreSQL for `postgres://`. */
export const layerFromUrl = (
  url: string,
  options: StorageOptions = {}
): Layer.Layer<JobStore, StorageLayerError | UnsupportedDatabaseUrl> =>
  Layer.unwrapEffect(Effect.map(parseDatabaseUrl(url), (target) => layerFor(target, options)))
