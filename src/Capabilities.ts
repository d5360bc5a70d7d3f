/**
 * Capabilities (R15): a security boundary decided by the server, not by the
 * caller. A policy places every job — from its kind and protocol — under a
 * capability profile and names the capabilities the job needs; a caller may
 * ask for a narrower profile, never a wider one.
 *
 * Ids are either full ids (`doc.summarize`) or axes (`fs.read`) with an
 * optional scope (`fs.read:logs`); a grant of an axis covers all its scopes.
 * An id that is neither is HSK-4001 UnknownCapability — an error, never a
 * silent deny.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { decodeWith } from "./domain/decode.js"
import { DecodeFailure } from "./domain/Errors.js"
import { JobKind, JobKinds } from "./domain/JobKind.js"
import { quoteAscii, toNfc } from "./domain/Text.js"

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

/** A job whose profile does not grant what its kind (and protocol) requires. */
export class CapabilityDenied extends Schema.TaggedError<CapabilityDenied>()("CapabilityDenied", {
  profile_id: Schema.String,
  job_kind: Schema.String,
  missing: Schema.Array(Schema.String)
}) {
  override get message(): string {
    // Worded for both checks: a kind's requirements at submit and claim, and a running job's `ctx.requireCapability`.
    return `Profile ${this.profile_id} does not grant ${this.missing.join(", ")}, which this ${this.job_kind} job needs`
  }
}

/**
 * A job asked to run under a profile wider than the one the policy gives its
 * kind and protocol: `excess` are the grants the policy's profile does not cover.
 */
export class EscalationDenied extends Schema.TaggedError<EscalationDenied>()("EscalationDenied", {
  job_kind: Schema.String,
  protocol_id: Schema.String,
  requested_profile_id: Schema.String,
  policy_profile_id: Schema.String,
  excess: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `Profile ${this.requested_profile_id} is wider than ${this.policy_profile_id}, the profile ${this.job_kind} jobs ` +
      `with protocol ${this.protocol_id} run under: it also grants ${this.excess.join(", ")}`
  }
}

/** Why the policy refuses a job: the error its caller gets. */
export type Refusal = CapabilityDenied | EscalationDenied | UnknownProfile

/** What the policy looks at: a job's kind and protocol. */
export interface JobSubject {
  readonly job_kind: JobKind
  readonly protocol_id: string
}

/** Where the policy puts a job: the profile it runs under and the capabilities it needs. */
export interface Placement {
  readonly profile: string
  readonly requires: ReadonlyArray<string>
}

/** A placement for jobs of one kind with one protocol, ahead of the kind's own. */
export interface ProtocolOverride extends Placement {
  readonly job_kind: JobKind
  readonly protocol_id: string
}

/** The registry and policy a `Capabilities` service is built from. */
export interface CapabilityConfig {
  /** Axes: grant `fs.read`, request `fs.read` or `fs.read:<scope>`. */
  readonly axes: ReadonlyArray<string>
  /** Full capability ids. */
  readonly ids: ReadonlyArray<string>
  /** Profile id → the capabilities it grants. */
  readonly profiles: Readonly<Record<string, ReadonlyArray<string>>>
  /** Job kind → where its jobs run (the reference's `profile_for_job` and job requirements). */
  readonly kinds: Readonly<Record<JobKind, Placement>>
  /** (kind, protocol) → where those jobs run instead (the reference's `profile_for_job_request`). */
  readonly protocols: ReadonlyArray<ProtocolOverride>
}

/** One allow/deny decision of the policy. Its `capability_action` event records `capability_id`, `decision_outcome` and who asked; the profile and reason stay here and in the typed errors. */
export interface Decision {
  readonly capability_id: string
  readonly outcome: "allow" | "deny"
  /** The profile the decision was made for. */
  readonly profile_id: string
  /** Why, for a denial. */
  readonly reason?: string
}

/** The policy's answer for one job: the profile it runs under, or why it may not run. */
export type Verdict =
  | { readonly _tag: "Granted"; readonly profile_id: string; readonly decisions: ReadonlyArray<Decision> }
  | { readonly _tag: "Refused"; readonly error: Refusal; readonly decisions: ReadonlyArray<Decision> }

/** The governance-pack export protocol: what the legacy `governance_pack_export` kind became (R16). */
export const GOVERNANCE_PACK_EXPORT_PROTOCOL_ID = "hsk.governance_pack.export.v0"

const analyst = (requires: ReadonlyArray<string>): Placement => ({ profile: "Analyst", requires })
const coder = (requires: ReadonlyArray<string>): Placement => ({ profile: "Coder", requires })
const DOCUMENT = ["doc.summarize"]

/**
 * The reference's registry and policy (`capabilities.rs`): its axes and full
 * ids, profiles Analyst (read-heavy), Coder (read/write/exec) and Operator
 * (file read/write and the governance-pack export, nothing else), its
 * kind → profile map, and the one protocol override: a `workflow_run` with
 * the governance-pack protocol runs under Operator.
 */
export const defaultConfig: CapabilityConfig = {
  axes: ["fs.read", "fs.write", "proc.exec", "net.http", "device", "secrets.use", "creative"],
  ids: [
    "doc.summarize", "terminal.exec", "export.debug_bundle", "export.governance_pack", "export.include_payloads",
    "fr.read", "diagnostics.read", "jobs.read", "terminal.attach_human",
    "CALENDAR_READ_BASIC", "CALENDAR_READ_DETAILS", "CALENDAR_READ_ANALYTICS", "CALENDAR_WRITE_LOCAL",
    "CALENDAR_WRITE_EXTERNAL", "CALENDAR_DELETE_LOCAL", "CALENDAR_DELETE_EXTERNAL", "CALENDAR_MOVE_EVENT",
    "CALENDAR_RESOLVE_CONFLICT", "CALENDAR_ACTIVITY_SUMMARY", "CALENDAR_COMPARE_ACTIVITY_WINDOWS"
  ],
  profiles: {
    Analyst: ["fs.read", "net.http", "doc.summarize", "export.debug_bundle", "fr.read", "diagnostics.read", "jobs.read", "export.include_payloads"],
    Coder: ["fs.read", "fs.write", "proc.exec", "net.http", "doc.summarize", "terminal.exec"],
    Operator: ["fs.read", "fs.write", "export.governance_pack"]
  },
  kinds: {
    doc_edit: coder(DOCUMENT),
    doc_rewrite: coder(DOCUMENT),
    terminal_exec: coder(["terminal.exec"]),
    doc_summarize: analyst(DOCUMENT),
    doc_ingest: analyst(DOCUMENT),
    distillation_eval: analyst(DOCUMENT),
    sheet_transform: analyst(DOCUMENT),
    canvas_cluster: analyst(DOCUMENT),
    asr_transcribe: analyst(DOCUMENT),
    spec_router: analyst(DOCUMENT),
    workflow_run: analyst(DOCUMENT),
    debug_bundle_export: analyst(["export.debug_bundle", "fr.read", "diagnostics.read", "jobs.read"])
  },
  protocols: [{
    job_kind: "workflow_run",
    protocol_id: GOVERNANCE_PACK_EXPORT_PROTOCOL_ID,
    profile: "Operator",
    requires: ["fs.read", "fs.write", "export.governance_pack"]
  }]
}

/** The decision for one capability under `profileId`: allow, or deny saying the profile does not grant it. */
export const grantDecision = (profileId: string, capabilityId: string, granted: boolean): Decision =>
  granted
    ? { capability_id: capabilityId, outcome: "allow", profile_id: profileId }
    : { capability_id: capabilityId, outcome: "deny", profile_id: profileId, reason: `profile ${profileId} does not grant ${capabilityId}` }

/** The capability service. */
export class Capabilities extends Context.Tag("@handshake/ai-job-model/Capabilities")<Capabilities, {
  /**
   * Where the policy puts a job of this kind and protocol (the legacy kind `term_exec` is
   * `terminal_exec`). `undefined` for a subject that is no job's — a kind the policy does not
   * know, which only a JS caller can give: it has no placement (`check` refuses it, `DecodeFailure`).
   */
  readonly placementFor: (job: JobSubject) => Placement | undefined
  /**
   * Whether `profileId` grants `capabilityId`, axis scopes included (HSK-4001 for an unknown id).
   * An id that is no text (a JS caller's) is a `DecodeFailure` whose subject names it
   * (`ProfileId`, `CapabilityId`; the profile's first), as `check`'s requested profile is.
   */
  readonly profileCan: (profileId: string, capabilityId: string) => Effect.Effect<boolean, UnknownCapability | UnknownProfile | DecodeFailure>
  /**
   * Decides the profile a job runs under: the policy's, or `requested` when it
   * is narrower (every grant covered by the policy's profile) and still grants
   * what the job needs. A refusal is a verdict, not a failure, so the caller
   * can record its decisions. A subject that is no job's (a kind the policy
   * does not know, a protocol that is no text) fails with `DecodeFailure`;
   * the legacy kind `term_exec` is read as `terminal_exec`.
   */
  readonly check: (job: JobSubject, requested?: string) => Effect.Effect<Verdict, DecodeFailure>
  /**
   * Set by a policy whose `check` is a pure function of its arguments — the
   * same kind, protocol and requested profile always get the same verdict and
   * decisions — as `make`'s is. Jobs may then remember the records of an
   * admitted claim per kind, protocol and profiles, and claim a job of a
   * remembered one in a single statement (issue 16) instead of asking again.
   * A policy without it (a caller's own `Capabilities.of({...})`) is asked on
   * every claim.
   */
  readonly deterministic?: boolean | undefined
}>() {}

/** Whether `held` grants `requested`: the id itself, or the axis of an `axis:scope` id. */
const covers = (held: ReadonlySet<string>, requested: string): boolean => {
  if (held.has(requested)) return true
  const colon = requested.indexOf(":")
  return colon > 0 && held.has(requested.slice(0, colon))
}

const copyPlacement = <P extends Placement>(placement: P): P => ({ ...placement, requires: [...placement.requires] })

/** A deep copy of a config (its lists, profiles and placements). */
const copyConfig = (config: CapabilityConfig): CapabilityConfig => ({
  axes: [...config.axes],
  ids: [...config.ids],
  profiles: Object.fromEntries(Object.entries(config.profiles).map(([id, grants]) => [id, [...grants]])),
  kinds: Object.fromEntries(JobKinds.map((kind) => [kind, copyPlacement(config.kinds[kind])])) as Record<JobKind, Placement>,
  protocols: config.protocols.map(copyPlacement)
})

/**
 * The policy's names for profiles and protocols in NFC, the form a job's
 * names are decoded to (AiJob.ts `Identifier`): a profile or override written
 * in NFD (`"E\u0301quipe"`) would otherwise never match a job's, and a job
 * placed under it would be stored under a name its claim no longer finds. Two
 * profiles NFC makes one are refused, naming both, not one set of grants lost.
 * Capability ids are ids the program asks for as written: kept as given.
 */
const normalNames = (config: CapabilityConfig): Effect.Effect<CapabilityConfig, DecodeFailure> => {
  // Entries, not assignments: a profile named `__proto__` stays a profile.
  const profiles: Array<readonly [string, ReadonlyArray<string>]> = []
  /** The id each NFC name was first given as. */
  const givenAs = new Map<string, string>()
  const issues: Array<{ readonly path: string; readonly message: string }> = []
  for (const [id, grants] of Object.entries(config.profiles)) {
    const name = toNfc(id)
    const earlier = givenAs.get(name)
    if (earlier !== undefined) {
      // Quoted in ASCII: the two names render alike (Équipe), their escapes differ ("E\u0301quipe", "\u00c9quipe").
      issues.push({
        path: `profiles.${id}`,
        message: `${quoteAscii(id)} and the profile ${quoteAscii(earlier)} are one name once NFC-normalised (${quoteAscii(name)}): ` +
          "one would lose its grants"
      })
    }
    givenAs.set(name, id)
    profiles.push([name, grants])
  }
  if (issues.length > 0) return Effect.fail(new DecodeFailure({ subject: "CapabilityConfig", issues }))
  const placed = <P extends Placement>(placement: P): P => ({ ...placement, profile: toNfc(placement.profile) })
  return Effect.succeed({
    ...config,
    profiles: Object.fromEntries(profiles),
    kinds: Object.fromEntries(JobKinds.map((kind) => [kind, placed(config.kinds[kind])])) as Record<JobKind, Placement>,
    protocols: config.protocols.map((override) => ({ ...placed(override), protocol_id: toNfc(override.protocol_id) }))
  })
}

/** A job subject as a caller may give it: any kind (`term_exec` read as `terminal_exec`), its protocol as text. */
const JobSubjectInput = Schema.Struct({ job_kind: JobKind, protocol_id: Schema.String })
const decodeSubject = decodeWith(JobSubjectInput, "JobSubject")
const decodeSubjectSync = Schema.decodeUnknownEither(JobSubjectInput)

/**
 * A subject's kind and protocol, each read once, into a plain object; undefined
 * when `job` is no object or a read throws.
 */
const readOnce = (job: JobSubject): JobSubject | undefined => {
  try {
    if (typeof job !== "object" || job === null) return undefined
    const { job_kind, protocol_id } = job
    return { job_kind, protocol_id }
  } catch {
    return undefined
  }
}

/** The refusal of an argument that is no text (a JS caller's): `subject` names the argument, `what` the text it takes. */
const notText = (subject: string, what: string, given: unknown): DecodeFailure =>
  new DecodeFailure({
    subject,
    issues: [{ path: "", message: `Expected ${what} (a string), got ${given === null ? "null" : typeof given}` }]
  })

const Names = Schema.Array(Schema.String)
const PlacementShape = Schema.Struct({ profile: Schema.String, requires: Names })

/**
 * The shape a policy must have before its names are checked: a placement
 * without `requires`, a kind left out, `profiles: null` or a grant list that
 * is no list died with a TypeError while the service was built (found by an
 * outside probe). A value that throws when read is refused the same way.
 * A key it does not name is refused, not dropped: `kinds.term_exec` beside
 * `kinds.terminal_exec` would otherwise change nothing without a word. An
 * override's `job_kind` is read as every kind is (`term_exec` is `terminal_exec`).
 */
const decodeConfig = decodeWith(
  Schema.Struct({
    axes: Names,
    ids: Names,
    profiles: Schema.Record({ key: Schema.String, value: Names }),
    kinds: Schema.Struct(Object.fromEntries(JobKinds.map((kind) => [kind, PlacementShape])) as Record<JobKind, typeof PlacementShape>),
    protocols: Schema.Array(Schema.Struct({ ...PlacementShape.fields, job_kind: JobKind, protocol_id: Schema.String }))
  }).annotations({ parseOptions: { onExcessProperty: "error" } }),
  "CapabilityConfig"
)

/**
 * A policy's refusal that says what to write where it keys a placement by
 * the legacy kind: `term_exec` is read as `terminal_exec` wherever a job's
 * kind is read, but a policy is written, and written in the canonical name.
 */
const withLegacyKindHint = (failure: DecodeFailure): DecodeFailure =>
  failure.issues.some((issue) => issue.path === "kinds.term_exec")
    ? new DecodeFailure({
      subject: failure.subject,
      issues: failure.issues.map((issue) =>
        issue.path === "kinds.term_exec"
          ? { path: issue.path, message: "is the legacy name of terminal_exec, read but never written: key it terminal_exec" }
          : issue
      )
    })
    : failure

/**
 * Builds the service, checking that the policy has its shape (`DecodeFailure`
 * naming the path otherwise) and that every grant and placement names a
 * known capability and profile.
 */
export const make = (given: CapabilityConfig): Effect.Effect<Capabilities["Type"], UnknownCapability | UnknownProfile | DecodeFailure> =>
  Effect.gen(function*() {
    // A copy: the service declares itself deterministic, so a later change to the caller's object must not reach it.
    const config = yield* normalNames(copyConfig(yield* Effect.mapError(decodeConfig(given), withLegacyKindHint)))
    const ids = new Set(config.ids)
    const axes = new Set(config.axes)
    const isKnown = (id: string) => ids.has(id) || covers(axes, id)
    const requireKnown = (id: string) => isKnown(id) ? Effect.void : Effect.fail(new UnknownCapability({ capability_id: id }))

    const profiles = new Map(Object.entries(config.profiles).map(([id, grants]) => [id, new Set(grants)]))
    const known = [...profiles.keys()]
    const requireProfile = (id: string) =>
      profiles.has(id) ? Effect.void : Effect.fail(new UnknownProfile({ profile_id: id, known }))

    for (const grants of Object.values(config.profiles)) yield* Effect.forEach(grants, requireKnown)
    for (const placement of [...JobKinds.map((kind) => config.kinds[kind]), ...config.protocols]) {
      yield* requireProfile(placement.profile)
      yield* Effect.forEach(placement.requires, requireKnown)
    }

    // Names are looked up in NFC, as the policy holds them: a legacy row's or a direct caller's NFD name finds its entry.
    const placementOf = (job: JobSubject): Placement => {
      const protocolId = toNfc(job.protocol_id)
      return config.protocols.find((o) => o.job_kind === job.job_kind && o.protocol_id === protocolId) ?? config.kinds[job.job_kind]
    }
    /**
     * Whether a subject's fields as read once (`readOnce`) are a subject's as
     * its type says: a canonical kind, a protocol that is text. Read once: a
     * getter that throws on its second read died in the verdict, and a legacy
     * kind's was read again by the decoder.
     */
    const isSubject = (read: JobSubject | undefined): read is JobSubject =>
      read !== undefined && Object.hasOwn(config.kinds, read.job_kind) && typeof read.protocol_id === "string"

    const placementFor = (job: JobSubject): Placement | undefined => {
      const read = readOnce(job)
      if (isSubject(read)) return placementOf(read)
      // No object, or a field that throws when read: no placement (`job` is not read again).
      if (read === undefined) return undefined
      // A JS caller's legacy `term_exec`, read as every reader of a kind reads it: from the fields as read.
      const decoded = decodeSubjectSync(read)
      // Any other subject `check` refuses has no placement: its kind's was `undefined` typed as one.
      return Either.isRight(decoded) ? placementOf(decoded.right) : undefined
    }

    // Past the types either id may be no text (a JS caller's): refused as `check` refuses its requested
    // profile, the profile first — `toNfc(5)` died building UnknownProfile, `(5).indexOf` with a TypeError.
    const profileCan = (profileId: string, capabilityId: string): Effect.Effect<boolean, UnknownCapability | UnknownProfile | DecodeFailure> =>
      typeof profileId !== "string"
        ? Effect.fail(notText("ProfileId", "a profile id", profileId))
        : typeof capabilityId !== "string"
        ? Effect.fail(notText("CapabilityId", "a capability id", capabilityId))
        : Effect.gen(function*() {
        // The profile first, then the capability: the reference's `profile_can` order, so both unknown is UnknownProfile.
        const held = profiles.get(toNfc(profileId))
        if (held === undefined) return yield* new UnknownProfile({ profile_id: profileId, known })
        yield* requireKnown(capabilityId)
        return covers(held, capabilityId)
      })

    // Checked once per call, decoded only when it is not a subject: a kind the policy does not
    // know, or `term_exec` from a JS caller, died reading the placement it has none of.
    // A `requested` that is no text (a JS caller's) is refused the same way, not read as a name.
    const check = (job: JobSubject, requested?: string): Effect.Effect<Verdict, DecodeFailure> => {
      if (requested !== undefined && typeof requested !== "string") return Effect.fail(notText("RequestedProfile", "a profile id", requested))
      // The fields as read once go to the decoder too (a legacy kind, a bad value); `job` itself only when reading threw.
      const read = readOnce(job)
      return isSubject(read)
        ? verdictOf(read, requested)
        : Effect.flatMap(decodeSubject(read ?? job), (decoded) => verdictOf(decoded, requested))
    }

    const verdictOf = (job: JobSubject, requested: string | undefined): Effect.Effect<Verdict> =>
      Effect.sync(() => {
        const placement = placementOf(job)
        const profileId = requested === undefined ? placement.profile : toNfc(requested)
        const deny = (capability_id: string, reason: string): Decision =>
          ({ capability_id, outcome: "deny", profile_id: profileId, reason })

        const held = profiles.get(profileId)
        if (held === undefined) {
          // Bounded: a legacy row may hold any text here, and the reason goes into an event.
          const shown = profileId.length > 256 ? `${profileId.slice(0, 256)}…` : profileId
          const reason = `unknown capability profile ${JSON.stringify(shown)}`
          return {
            _tag: "Refused",
            error: new UnknownProfile({ profile_id: profileId, known }),
            decisions: placement.requires.map((id) => deny(id, reason))
          }
        }

        // Narrower means: every grant of the requested profile is covered by the policy's.
        const policyGrants = profiles.get(placement.profile)!
        const excess = [...held].filter((grant) => !covers(policyGrants, grant))
        if (excess.length > 0) {
          const error = new EscalationDenied({
            job_kind: job.job_kind,
            protocol_id: job.protocol_id,
            requested_profile_id: profileId,
            policy_profile_id: placement.profile,
            excess
          })
          return { _tag: "Refused", error, decisions: excess.map((id) => deny(id, `escalation: ${error.message}`)) }
        }

        const decisions = placement.requires.map((capability_id) => grantDecision(profileId, capability_id, covers(held, capability_id)))
        const missing = decisions.filter((d) => d.outcome === "deny").map((d) => d.capability_id)
        return missing.length > 0
          ? { _tag: "Refused", error: new CapabilityDenied({ profile_id: profileId, job_kind: job.job_kind, missing }), decisions }
          : { _tag: "Granted", profile_id: profileId, decisions }
      })

    return Capabilities.of({ placementFor, profileCan, check, deterministic: true })
  })

/** The reference's registry and policy. */
export const layerDefault: Layer.Layer<Capabilities> = Layer.effect(Capabilities, Effect.orDie(make(defaultConfig)))

/**
 * An application's own registry and policy (start from `defaultConfig`); fails
 * to build on an unknown capability id (HSK-4001) or profile, or a policy
 * without its shape (`DecodeFailure`).
 */
export const layer = (config: CapabilityConfig): Layer.Layer<Capabilities, UnknownCapability | UnknownProfile | DecodeFailure> =>
  Layer.effect(Capabilities, make(config))
