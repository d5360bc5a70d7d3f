/**
 * Capabilities (R15): profiles grant capability ids, job kinds require them,
 * and a job is queued only if its profile grants every requirement.
 *
 * Ids are either full ids (`doc.summarize`) or axes (`fs.read`) with an
 * optional scope (`fs.read:logs`); a grant of an axis covers all its scopes.
 * An id that is neither is HSK-4001 UnknownCapability — never a silent deny.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { type JobKind, JobKinds } from "./domain/JobKind.js"

/** HSK-4001: a capability id that the registry does not know. */
export class UnknownCapability extends Schema.TaggedError<UnknownCapability>()("UnknownCapability", {
  capability_id: Schema.String
}) {
  readonly code = "HSK-4001"
  override get message(): string {
    return `HSK-4001 UnknownCapability: ${this.capability_id}`
  }
}

/** A capability profile id that is not configured. */
export class UnknownProfile extends Schema.TaggedError<UnknownProfile>()("UnknownProfile", {
  profile_id: Schema.String,
  known: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `Unknown capability profile ${JSON.stringify(this.profile_id)}; known profiles: ${this.known.join(", ")}`
  }
}

/** A job whose profile does not grant what its kind requires. */
export class CapabilityDenied extends Schema.TaggedError<CapabilityDenied>()("CapabilityDenied", {
  profile_id: Schema.String,
  job_kind: Schema.String,
  missing: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `Profile ${this.profile_id} may not run ${this.job_kind} jobs: missing ${this.missing.join(", ")}`
  }
}

/** The registry a `Capabilities` service is built from. */
export interface CapabilityConfig {
  /** Axes: grant `fs.read`, request `fs.read` or `fs.read:<scope>`. */
  readonly axes: ReadonlyArray<string>
  /** Full capability ids. */
  readonly ids: ReadonlyArray<string>
  /** Profile id → the capabilities it grants. */
  readonly profiles: Readonly<Record<string, ReadonlyArray<string>>>
  /** Job kind → the capabilities a job of that kind needs. */
  readonly requirements: Readonly<Record<JobKind, ReadonlyArray<string>>>
}

/** One allow/deny decision, as recorded in a `capability_action` event. */
export interface Decision {
  readonly capability_id: string
  readonly outcome: "allow" | "deny"
}

const DOCUMENT = ["doc.summarize"]

/**
 * The reference's registry: the six mandatory axes, the full ids it knows,
 * and profiles Analyst (read-heavy), Coder (read/write/exec) and Operator
 * (runs and inspects everything, including terminal and debug exports).
 */
export const defaultConfig: CapabilityConfig = {
  axes: ["fs.read", "fs.write", "proc.exec", "net.http", "device", "secrets.use", "creative"],
  ids: [
    "doc.summarize", "terminal.exec", "terminal.attach_human", "export.debug_bundle", "export.include_payloads",
    "fr.read", "diagnostics.read", "jobs.read"
  ],
  profiles: {
    Analyst: ["fs.read", "net.http", "doc.summarize", "export.debug_bundle", "fr.read", "diagnostics.read", "jobs.read", "export.include_payloads"],
    Coder: ["fs.read", "fs.write", "proc.exec", "net.http", "doc.summarize", "terminal.exec"],
    Operator: [
      "fs.read", "fs.write", "proc.exec", "net.http", "doc.summarize", "terminal.exec", "terminal.attach_human",
      "export.debug_bundle", "export.include_payloads", "fr.read", "diagnostics.read", "jobs.read"
    ]
  },
  requirements: {
    doc_edit: DOCUMENT,
    doc_rewrite: DOCUMENT,
    doc_summarize: DOCUMENT,
    doc_ingest: DOCUMENT,
    sheet_transform: DOCUMENT,
    canvas_cluster: DOCUMENT,
    asr_transcribe: DOCUMENT,
    workflow_run: DOCUMENT,
    spec_router: DOCUMENT,
    distillation_eval: DOCUMENT,
    terminal_exec: ["terminal.exec"],
    debug_bundle_export: ["export.debug_bundle", "fr.read", "diagnostics.read", "jobs.read"]
  }
}

/** The capability service. */
export class Capabilities extends Context.Tag("@handshake/ai-job-model/Capabilities")<Capabilities, {
  /** Whether `profileId` grants `capabilityId` (HSK-4001 for an unknown id). */
  readonly profileCan: (profileId: string, capabilityId: string) => Effect.Effect<boolean, UnknownCapability | UnknownProfile>
  /** The capabilities a job kind requires. */
  readonly requirementsFor: (kind: JobKind) => ReadonlyArray<string>
  /** One decision per capability `kind` requires, under `profileId`. */
  readonly decide: (profileId: string, kind: JobKind) => Effect.Effect<ReadonlyArray<Decision>, UnknownCapability | UnknownProfile>
}>() {}

/** Builds the service, checking that every grant and requirement names a known capability. */
export const make = (config: CapabilityConfig): Effect.Effect<Capabilities["Type"], UnknownCapability> =>
  Effect.gen(function*() {
    const ids = new Set(config.ids)
    const axes = new Set(config.axes)
    const isKnown = (id: string) => {
      if (ids.has(id) || axes.has(id)) return true
      const colon = id.indexOf(":")
      return colon > 0 && axes.has(id.slice(0, colon))
    }
    const requireKnown = (id: string) => isKnown(id) ? Effect.void : Effect.fail(new UnknownCapability({ capability_id: id }))

    for (const grants of Object.values(config.profiles)) yield* Effect.forEach(grants, requireKnown)
    for (const kind of JobKinds) yield* Effect.forEach(config.requirements[kind], requireKnown)

    const profiles = new Map(Object.entries(config.profiles).map(([id, grants]) => [id, new Set(grants)]))
    const known = [...profiles.keys()]

    const grants = (held: ReadonlySet<string>, requested: string) => {
      if (held.has(requested)) return true
      const colon = requested.indexOf(":")
      return colon > 0 && held.has(requested.slice(0, colon))
    }

    const profileCan = (profileId: string, capabilityId: string) =>
      Effect.gen(function*() {
        yield* requireKnown(capabilityId)
        const held = profiles.get(profileId)
        if (held === undefined) return yield* new UnknownProfile({ profile_id: profileId, known })
        return grants(held, capabilityId)
      })

    const requirementsFor = (kind: JobKind) => config.requirements[kind]

    const decide = (profileId: string, kind: JobKind) =>
      Effect.forEach(requirementsFor(kind), (capability_id) =>
        Effect.map(profileCan(profileId, capability_id), (allowed): Decision => ({
          capability_id,
          outcome: allowed ? "allow" : "deny"
        })))

    return Capabilities.of({ profileCan, requirementsFor, decide })
  })

/** The reference's profiles and requirements. */
export const layerDefault: Layer.Layer<Capabilities> = Layer.effect(Capabilities, Effect.orDie(make(defaultConfig)))

/** A registry of the caller's own; fails to build on an unknown capability id. */
export const layer = (config: CapabilityConfig): Layer.Layer<Capabilities, UnknownCapability> =>
  Layer.effect(Capabilities, make(config))
