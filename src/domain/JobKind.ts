/**
 * Job kinds (R1, R1a, R1b; HSK-JOB-100).
 *
 * Exactly twelve canonical strings. The legacy alias `term_exec` is accepted when
 * reading and decodes to `terminal_exec`; no encode path ever yields it.
 */
import * as Schema from "effect/Schema"

/** The twelve canonical job kinds, in the order the spec lists them. */
export const JobKinds = [
  "doc_edit",
  "doc_rewrite",
  "doc_summarize",
  "sheet_transform",
  "canvas_cluster",
  "asr_transcribe",
  "workflow_run",
  "spec_router",
  "debug_bundle_export",
  "terminal_exec",
  "doc_ingest",
  "distillation_eval"
] as const

/** A canonical job kind. */
export type JobKind = typeof JobKinds[number]

/** The one legacy spelling accepted on read (R1a). */
export const LegacyTerminalAlias = "term_exec" as const

/** The canonical kinds alone: decodes and encodes only the twelve strings. */
export const CanonicalJobKind = Schema.Literal(...JobKinds).annotations({
  identifier: "JobKind",
  description: "one of the twelve canonical job kinds"
})

/**
 * The job kind as read from any input: the canonical strings plus `term_exec`,
 * which decodes to `terminal_exec`. Encoding is the identity on canonical kinds,
 * so the alias can never be written.
 */
export const JobKind: Schema.Schema<JobKind, JobKind | typeof LegacyTerminalAlias> = Schema.transform(
  Schema.Literal(...JobKinds, LegacyTerminalAlias).annotations({
    identifier: "JobKindInput",
    message: () => ({ message: `Expected one of the job kinds ${JobKinds.join(", ")} (or the legacy alias term_exec)`, override: true }),
    // What an input schema shows (the OpenAPI document's `POST /jobs` body): the twelve kinds alone, so
    // a generated client offers no TERM_EXEC; the alias is still accepted, and said so (R1a).
    jsonSchema: {
      enum: JobKinds,
      description: "One of the twelve canonical job kinds. The legacy alias term_exec is also accepted, and stored as terminal_exec."
    }
  }),
  CanonicalJobKind,
  {
    strict: true,
    decode: (kind): JobKind => (kind === LegacyTerminalAlias ? "terminal_exec" : kind),
    encode: (kind) => kind
  }
).annotations({
  identifier: "JobKind",
  // A JSON Schema describes a transformation by its encoded side, which lists the alias; but
  // every job this library writes (an HTTP response, the OpenAPI document's `AiJob`) holds a
  // canonical kind, so the schema says exactly that (R1a: `term_exec` is never written).
  jsonSchema: { enum: JobKinds }
})

/** Whether a string is a canonical job kind (the alias is not). */
export const isJobKind = Schema.is(CanonicalJobKind)
