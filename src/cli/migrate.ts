/** `ai-jobs migrate`: create or upgrade the schema in place (fresh and legacy databases take the same path). */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { databaseOption, resolve, storeLayer } from "./database.js"
import { json } from "./format.js"
import { withProgress } from "./progress.js"

/** Applies pending migrations, creating a missing SQLite file and its folder. */
export const migrateCommand = Command.make(
  "migrate",
  { database: databaseOption, json: Options.boolean("json").pipe(Options.withDescription("Print the result as JSON")) },
  (options) =>
    Effect.gen(function*() {
      const database = yield* resolve(options.database)
      // Building the store layer runs the migrations; launching it and closing it is the whole command.
      yield* Effect.void.pipe(
        Effect.provide(storeLayer(database, { migrate: true, create: true })),
        withProgress(`migrating ${database.display}`)
      )
      yield* Console.log(
        options.json
          ? json({ database: database.display, dialect: database.target.dialect, migrated: true })
          : `Database ${database.display} (${database.target.dialect}) is migrated: the schema is up to date.`
      )
    })
).pipe(Command.withDescription("Create the schema, or upgrade an existing (also a legacy Handshake) database in place."))
