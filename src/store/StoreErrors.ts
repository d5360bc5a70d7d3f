/** Errors raised by storage, each a tag a caller can `catchTag`. */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { DecodeIssue } from "../domain/Errors.js"
import { JobState } from "../domain/JobState.js"
import { migrationLabel } from "./internal/migrationLabel.js"

/** The entity kinds a lookup can miss. */
export const EntityName = Schema.Literal("job", "workflow_run", "node_execution")

/** A job, run or node execution that does not exist. */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", {
  entity: EntityName,
  id: Schema.String,
  /** A job's view only: the job was pruned, and the audit trail kept of it still names the id (internal/prunedJob.ts). */
  pruned: Schema.optional(Schema.Literal(true))
}) {
  override get message(): string {
    const missing = `No ${this.entity.replace("_", " ")} with id ${this.id}`
    return this.pruned === true ? `${missing}: the job was pruned; the audit trail kept of it still names it (its events, by this job id)` : missing
  }
}

/**
 * A create whose id is already taken (a job, run, node execution or event).
 * `pruned`: the job itself is gone, pruned, but the audit trail kept of it
 * (until the retention window purges it) still names the id. `repeated`: the
 * batch itself gives the id twice (whether or not it is also stored).
 * `refused_request`: no job holds the id, but another caller's request the
 * policy refused is recorded under it.
 */
export class AlreadyExists extends Schema.TaggedError<AlreadyExists>()("AlreadyExists", {
  entity: Schema.Literal("job", "workflow_run", "node_execution", "event"),
  id: Schema.String,
  pruned: Schema.optional(Schema.Literal(true)),
  repeated: Schema.optional(Schema.Literal(true)),
  /** The id's trail holds only another caller's refused request (internal/jobs/reusedId.ts). */
  refused_request: Schema.optional(Schema.Literal(true))
}) {
  override get message(): string {
    if (this.refused_request === true) {
      return `The job id ${this.id} is named by the audit trail of another caller's refused request: give the new job another id`
    }
    if (this.pruned === true) {
      return `The id ${this.id} is still named by the audit trail kept of a pruned job: give the new job another id`
    }
    const entity = this.entity.replace("_", " ")
    return this.repeated === true
      ? `The ${entity} id ${this.id} is given twice in one batch: nothing of the batch was written`
      : `${this.entity === "event" ? "An" : "A"} ${entity} with id ${this.id} already exists`
  }
}

/**
 * A write for a run that is no longer active: the run has ended (`status` is
 * its status), or — for a worker's own writes — it is still `running` but no
 * longer its job's current run (`status` is then the job's state).
 */
export class RunNotActive extends Schema.TaggedError<RunNotActive>()("RunNotActive", {
  workflow_run_id: Schema.String,
  status: JobState
}) {
  override get message(): string {
    return `Workflow run ${this.workflow_run_id} is no longer active (${this.status})`
  }
}

/**
 * A run someone has already begun running (`JobStore.takeRun`): `Jobs.run`
 * took it, a worker pool adopted it from an offer, or a heartbeat was
 * written for it. A run is run once: its program would otherwise run twice.
 */
export class RunTaken extends Schema.TaggedError<RunTaken>()("RunTaken", {
  job_id: Schema.String,
  workflow_run_id: Schema.String
}) {
  override get message(): string {
    return `Workflow run ${this.workflow_run_id} of job ${this.job_id} is already being run (by Jobs.run or a worker pool); a run is run once`
  }
}

/**
 * A stored row that does not decode: the database holds something the domain
 * forbids. Names the table, the row and the column so an operator can fix it.
 */
export class CorruptRow extends Schema.TaggedError<CorruptRow>()("CorruptRow", {
  table: Schema.String,
  row_id: Schema.String,
  column: Schema.String,
  issues: Schema.Array(DecodeIssue)
}) {
  override get message(): string {
    // Each issue with its path: "is missing" alone did not say which field an operator should look at.
    const detail = this.issues.map((issue) => issue.path === "" ? issue.message : `${issue.path}: ${issue.message}`).join("; ")
    return `Corrupt row in ${this.table} (id ${this.row_id}), column ${this.column}: ${detail}`
  }
}

/** The database failed (connection, constraint, lock timeout). Keeps the driver's error in `cause`. */
export class StorageError extends Schema.TaggedError<StorageError>()("StorageError", {
  operation: Schema.String,
  cause: Schema.Defect
}) {
  /** The Flight Recorder's code for a sink failure (R10). */
  readonly code = "HSK-500-DB"
  override get message(): string {
    const cause = this.cause as { readonly message?: unknown; readonly cause?: { readonly message?: unknown } }
    const detail = cause?.cause?.message ?? cause?.message
    return `${this.code}: Storage failed during ${this.operation}${typeof detail === "string" ? `: ${detail}` : ""}`
  }
}

/**
 * A migration failed; the database is left as it was (migrations run in one
 * transaction). Names the dialect, the migration and, where known, the
 * statement in its file. Also how a store build that does not migrate (told
 * not to, or read-only) refuses a database it cannot use: `during: "open"`,
 * and the message says the store was not opened rather than that
 * migrations failed.
 */
export class MigrationFailed extends Schema.TaggedError<MigrationFailed>()("MigrationFailed", {
  dialect: Schema.Literal("sqlite", "pg"),
  /** What was refused: migrating (the default), or opening a store without migrating. */
  during: Schema.optionalWith(Schema.Literal("migrate", "open"), { default: () => "migrate" as const }),
  /** The failing migration's number (2 for `0002_current_schema.sql`); null when the run failed outside one. */
  migration_id: Schema.NullOr(Schema.Int),
  migration_name: Schema.NullOr(Schema.String),
  /** 1-based index of the failing statement in the file, when known. */
  statement: Schema.NullOr(Schema.Int),
  cause: Schema.Defect
}) {
  override get message(): string {
    const cause = this.cause as { readonly message?: unknown; readonly cause?: { readonly message?: unknown } }
    const detail = cause?.cause?.message ?? cause?.message
    const database = this.dialect === "pg" ? "PostgreSQL" : "SQLite"
    const which = this.during === "open"
      ? `Cannot open the store on this ${database} database`
      : this.migration_id === null
      ? `${database} migrations failed`
      : `${database} migration ${migrationLabel(this.migration_id, this.migration_name ?? "")} failed`
    const where = this.statement === null ? "" : ` at statement ${this.statement}`
    return `${which}${where}${typeof detail === "string" ? `: ${detail}` : ""}${serverNotes(cause?.cause ?? cause)}`
  }
}

/**
 * A store build that does not migrate refused the database (a newer
 * version's schema, a search_path hiding another schema's store): the same
 * `MigrationFailed`, said as a refusal to open, since nothing was migrating.
 */
export const asOpenRefusal = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.mapError(effect, (error) =>
    error instanceof MigrationFailed && error.during === "migrate"
      ? new MigrationFailed({
        dialect: error.dialect,
        during: "open",
        migration_id: error.migration_id,
        migration_name: error.migration_name,
        statement: error.statement,
        cause: error.cause
      }) as E
      : error)

/**
 * PostgreSQL's DETAIL and HINT of a failed statement, as "; detail: …; hint: …":
 * often the part that says what to fix ("policy dba_own_jobs on table ai_jobs
 * depends on column profile_id" where the message only says a policy is in
 * the way). SQLite's
 * errors have neither: nothing is added.
 */
const serverNotes = (error: unknown): string => {
  const { detail, hint } = (error ?? {}) as { readonly detail?: unknown; readonly hint?: unknown }
  return (typeof detail === "string" && detail !== "" ? `; detail: ${detail}` : "") +
    (typeof hint === "string" && hint !== "" ? `; hint: ${hint}` : "")
}
