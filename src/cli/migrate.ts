/**
 * `ai-jobs migrate`: create or upgrade the schema in place (fresh and legacy
 * databases take the same path), saying what it did: the schema version
 * before and after, or that there was nothing to apply.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import { JobStore } from "../store/JobStore.js"
import { type Database, databaseOption, resolve, storeLayer } from "./database.js"
import { describeError, OperationFailed } from "./errors.js"
import { json } from "./format.js"
import { withProgress } from "./progress.js"

const readVersion = Effect.flatMap(JobStore, (store) => store.schemaVersion)

/**
 * The schema version before migrating: 0 for a SQLite file not there yet, and
 * for a database without our migrations (empty, or a legacy Handshake one);
 * undefined when it cannot be read (the migration then says why).
 */
const versionBefore = (database: Database): Effect.Effect<number | undefined> =>
  database.target.dialect === "sqlite" && (database.target.filename === ":memory:" || !fs.existsSync(database.target.filename))
    ? Effect.succeed(0)
    : readVersion.pipe(
      Effect.provide(storeLayer(database, { migrate: false, create: false, readonly: true, requireCurrentSchema: false })),
      Effect.orElseSucceed(() => undefined)
    )

/** What the migration did, after the line every run prints. */
const applied = (before: number | undefined, after: number): string =>
  before === undefined
    ? ""
    : before === after
    ? ` Nothing to apply (schema version ${after}).`
    : before === 0
    ? ` Applied: schema version ${after} (the database had none of ours: new, empty or a legacy Handshake schema).`
    : ` Applied: schema version ${before} → ${after}.`

/** Applies pending migrations, creating a missing SQLite file and its folder. */
export const migrateCommand = Command.make(
  "migrate",
  { database: databaseOption, json: Options.boolean("json").pipe(Options.withDescription("Print the result as JSON")) },
  (options) =>
    Effect.gen(function*() {
      const database = yield* resolve(options.database)
      const before = yield* versionBefore(database)
      // Building the store layer runs the migrations; reading the version it left is the rest.
      const after = yield* readVersion.pipe(
        Effect.provide(storeLayer(database, { migrate: true, create: true })),
        Effect.mapError((error) => error instanceof OperationFailed ? error : new OperationFailed({ message: describeError(error) })),
        withProgress(`migrating ${database.display}`)
      )
      yield* Console.log(
        options.json
          // What the text says, as fields: the version before (null when it could not be read) and after.
          ? json({
            database: database.display,
            dialect: database.target.dialect,
            migrated: true,
            schema_version: after,
            schema_version_before: before ?? null,
            applied: before === undefined ? null : before !== after
          })
          : `Database ${database.display} (${database.target.dialect}) is migrated: the schema is up to date.${applied(before, after)}`
      )
    })
).pipe(Command.withDescription("Create the schema, or upgrade an existing (also a legacy Handshake) database in place."))
