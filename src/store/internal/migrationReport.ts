/**
 * What a store's migrate step did, told to whoever asks (the CLI's `migrate`
 * prints it). Only the step itself knows: it reads the schema version and
 * applies the pending migrations under the migration lock, so of two
 * processes migrating at once, the one that waited reports that there was
 * nothing left to apply. A version read before, outside the lock, could not
 * tell (both said they had applied everything).
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"

/** The schema version the migrate step found under its lock, and the migrations it then applied (none: nothing to apply). */
export interface MigrationReport {
  readonly before: number
  readonly applied: ReadonlyArray<readonly [id: number, name: string]>
}

/**
 * Where a migrate step puts its report, when the caller provides one (as a
 * service around building a store layer); without it nothing is recorded.
 */
export class MigrationReports extends Context.Tag("@handshake/ai-job-model/MigrationReports")<
  MigrationReports,
  Ref.Ref<Option.Option<MigrationReport>>
>() {}

/** Records `report` for the caller that asked; nothing when none did. */
export const recordMigration = (report: MigrationReport): Effect.Effect<void> =>
  Effect.flatMap(Effect.serviceOption(MigrationReports), (reports) =>
    Option.match(reports, { onNone: () => Effect.void, onSome: (ref) => Ref.set(ref, Option.some(report)) }))
