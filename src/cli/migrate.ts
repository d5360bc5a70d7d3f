/**
 * `ai-jobs migrate`: create or upgrade the schema in place (fresh and legacy
 * databases take the same path), saying what it did: the schema version
 * before and after, or that there was nothing to apply.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { type MigrationReport, MigrationReports } from "../store/internal/migrationReport.js"
import { databaseOption, migratedVersion, resolve, storeLayer } from "./database.js"
import { describeError, OperationFailed } from "./errors.js"
import { json } from "./format.js"
import { withProgress } from "./progress.js"

/** What the migration did, after the line every run prints. */
const applied = (report: MigrationReport, after: number): string =>
  report.applied.length === 0
    ? ` Nothing to apply (schema version ${after}).`
    : report.before === 0
    ? ` Applied: schema version ${after} (the database had none of ours: new, empty or a legacy Handshake schema).`
    : ` Applied: schema version ${report.before} → ${after}.`

/** Applies pending migrations, creating a missing SQLite file and its folder. */
export const migrateCommand = Command.make(
  "migrate",
  { database: databaseOption, json: Options.boolean("json").pipe(Options.withDescription("Print the result as JSON")) },
  (options) =>
    Effect.gen(function*() {
      const database = yield* resolve(options.database)
      // Building the store layer runs the migrations, which report what they found and applied
      // under the migration lock (a run that waited for another's finds nothing left to apply);
      // reading the version they left, and that it is the newest, is the rest.
      const reports = yield* Ref.make(Option.none<MigrationReport>())
      const after = yield* migratedVersion(database).pipe(
        Effect.provide(storeLayer(database, { migrate: true, create: true })),
        Effect.provideService(MigrationReports, reports),
        Effect.mapError((error) => error instanceof OperationFailed ? error : new OperationFailed({ message: describeError(error) })),
        withProgress(`migrating ${database.display}`)
      )
      const report = Option.getOrUndefined(yield* Ref.get(reports))
      yield* Console.log(
        options.json
          // What the text says, as fields: the version the migration found under its lock, and after.
          ? json({
            database: database.display,
            dialect: database.target.dialect,
            migrated: true,
            schema_version: after,
            schema_version_before: report?.before ?? null,
            applied: report === undefined ? null : report.applied.length > 0
          })
          : `Database ${database.display} (${database.target.dialect}) is migrated: the schema is up to date.${report === undefined ? "" : applied(report, after)}`
      )
    })
).pipe(Command.withDescription("Create the schema, or upgrade an existing (also a legacy Handshake) database in place."))
