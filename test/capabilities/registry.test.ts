/**
 * The reference's registry and policy (capabilities.rs) as `layerDefault`
 * holds them: every id and axis it knows, axis inheritance, HSK-4001 for an
 * unknown id (an error, not a `false`), the profiles' grants, and where the
 * policy places each kind. Pure: no store.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Capabilities from "../../src/Capabilities.js"
import { JobKinds } from "../../src/domain/JobKind.js"

const AXES = ["fs.read", "fs.write", "proc.exec", "net.http", "device", "secrets.use", "creative"]
const FULL_IDS = [
  "doc.summarize", "terminal.exec", "export.debug_bundle", "export.governance_pack", "export.include_payloads", "fr.read",
  "diagnostics.read", "jobs.read", "terminal.attach_human", "CALENDAR_READ_BASIC", "CALENDAR_READ_DETAILS",
  "CALENDAR_READ_ANALYTICS", "CALENDAR_WRITE_LOCAL", "CALENDAR_WRITE_EXTERNAL", "CALENDAR_DELETE_LOCAL",
  "CALENDAR_DELETE_EXTERNAL", "CALENDAR_MOVE_EVENT", "CALENDAR_RESOLVE_CONFLICT", "CALENDAR_ACTIVITY_SUMMARY",
  "CALENDAR_COMPARE_ACTIVITY_WINDOWS"
]

/** Every capability id a profile grants, among the reference's ids and axes. */
const grantsOf = (profile: string) =>
  Effect.flatMap(Capabilities.Capabilities, (capabilities) =>
    Effect.map(
      Effect.forEach([...AXES, ...FULL_IDS], (id) => Effect.map(capabilities.profileCan(profile, id), (granted) => [id, granted] as const)),
      (pairs) => pairs.filter(([, granted]) => granted).map(([id]) => id).sort()
    ))

describe("the reference's capability registry (Capabilities.layerDefault)", () => {
  it.effect("R15 every full id and axis the reference knows is known, and an axis takes any scope", () =>
    Effect.gen(function*() {
      const capabilities = yield* Capabilities.Capabilities
      for (const id of [...AXES, ...FULL_IDS, ...AXES.map((axis) => `${axis}:some-scope`)]) {
        const answer = yield* Effect.either(capabilities.profileCan("Analyst", id))
        assert.isTrue(answer._tag === "Right", `${id} is known`)
      }
    }).pipe(Effect.provide(Capabilities.layerDefault)))

  it.effect("HSK-4001 an unknown id is an error, distinct from a denial", () =>
    Effect.gen(function*() {
      const capabilities = yield* Capabilities.Capabilities
      for (const id of ["magic.wand", "fs.reads:logs", "doc.summarize:pdf", "calendar_read_basic", "", ":logs"]) {
        const error = yield* Effect.flip(capabilities.profileCan("Coder", id))
        assert.strictEqual(error._tag, "UnknownCapability", id)
        if (error._tag === "UnknownCapability") assert.strictEqual(error.code, "HSK-4001")
      }
      // Known but not granted: a plain false.
      assert.isFalse(yield* capabilities.profileCan("Analyst", "terminal.exec"))
      assert.strictEqual((yield* Effect.flip(capabilities.profileCan("Root", "fs.read")))._tag, "UnknownProfile")
      // Both unknown: the profile is looked up first, as the reference's profile_can does.
      assert.strictEqual((yield* Effect.flip(capabilities.profileCan("Root", "magic.wand")))._tag, "UnknownProfile")
    }).pipe(Effect.provide(Capabilities.layerDefault)))

  it.effect("R15 a grant of an axis covers its scopes; a scope never covers its axis or another axis", () =>
    Effect.gen(function*() {
      const capabilities = yield* Capabilities.Capabilities
      assert.isTrue(yield* capabilities.profileCan("Analyst", "fs.read:logs"))
      assert.isFalse(yield* capabilities.profileCan("Analyst", "fs.write:logs"))
      assert.isTrue(yield* capabilities.profileCan("Coder", "fs.write:artifacts"))
      assert.isFalse(yield* capabilities.profileCan("Coder", "secrets.use:api-key"))
    }).pipe(Effect.provide(Capabilities.layerDefault)))

  it.effect("R15 the profiles grant exactly what the reference's do (Operator: file read/write and the governance-pack export)", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* grantsOf("Analyst"), [
        "diagnostics.read", "doc.summarize", "export.debug_bundle", "export.include_payloads", "fr.read", "fs.read", "jobs.read", "net.http"
      ])
      assert.deepStrictEqual(yield* grantsOf("Coder"), ["doc.summarize", "fs.read", "fs.write", "net.http", "proc.exec", "terminal.exec"])
      assert.deepStrictEqual(yield* grantsOf("Operator"), ["export.governance_pack", "fs.read", "fs.write"])
    }).pipe(Effect.provide(Capabilities.layerDefault)))

  it.effect("R15 the policy places each kind as the reference does, with the governance-pack protocol override", () =>
    Effect.gen(function*() {
      const capabilities = yield* Capabilities.Capabilities
      const placed = Object.fromEntries(JobKinds.map((job_kind) => {
        const placement = capabilities.placementFor({ job_kind, protocol_id: "any.v1" })!
        return [job_kind, `${placement.profile}: ${placement.requires.join(", ")}`]
      }))
      const document = "doc.summarize"
      assert.deepStrictEqual(placed, {
        doc_edit: `Coder: ${document}`,
        doc_rewrite: `Coder: ${document}`,
        terminal_exec: "Coder: terminal.exec",
        doc_summarize: `Analyst: ${document}`,
        doc_ingest: `Analyst: ${document}`,
        distillation_eval: `Analyst: ${document}`,
        sheet_transform: `Analyst: ${document}`,
        canvas_cluster: `Analyst: ${document}`,
        asr_transcribe: `Analyst: ${document}`,
        spec_router: `Analyst: ${document}`,
        workflow_run: `Analyst: ${document}`,
        debug_bundle_export: "Analyst: export.debug_bundle, fr.read, diagnostics.read, jobs.read"
      })
      const governance = capabilities.placementFor({ job_kind: "workflow_run", protocol_id: "hsk.governance_pack.export.v0" })!
      assert.strictEqual(governance.profile, "Operator")
      assert.deepStrictEqual(governance.requires, ["fs.read", "fs.write", "export.governance_pack"])
    }).pipe(Effect.provide(Capabilities.layerDefault)))
  it.effect("issue 16 a policy built by make declares itself deterministic, and holds to it: changing the config object afterwards changes no verdict", () =>
    Effect.gen(function*() {
      const config = {
        ...Capabilities.defaultConfig,
        profiles: { ...Capabilities.defaultConfig.profiles, Analyst: [...Capabilities.defaultConfig.profiles["Analyst"]!] },
        kinds: { ...Capabilities.defaultConfig.kinds, doc_summarize: { profile: "Analyst", requires: ["doc.summarize"] } },
        protocols: [...Capabilities.defaultConfig.protocols]
      }
      const capabilities = yield* Capabilities.make(config)
      assert.isTrue(capabilities.deterministic)
      const subject = { job_kind: "doc_summarize", protocol_id: "hsk.demo.v1" } as const
      const before = yield* capabilities.check(subject)
      // The caller's objects change under the built service: it must not see it.
      ;(config.kinds.doc_summarize.requires as Array<string>).push("proc.exec")
      ;(config.profiles["Analyst"] as Array<string>).length = 0
      ;(config.protocols as Array<Capabilities.ProtocolOverride>).push({ job_kind: "doc_summarize", protocol_id: "hsk.demo.v1", profile: "Coder", requires: [] })
      assert.deepStrictEqual(yield* capabilities.check(subject), before)
      assert.strictEqual(before._tag, "Granted")
    }))
})

describe("an application's own policy (Capabilities.layer, make)", () => {
  it.effect("R15 a policy's profile and protocol names are held in NFC, the form a job's names are decoded to: NFD or NFC, asked or configured, they meet; two profiles NFC makes one are refused naming both", () =>
    Effect.gen(function*() {
      const d = Capabilities.defaultConfig
      const capabilities = yield* Capabilities.make({
        ...d,
        profiles: { ...d.profiles, "E\u0301quipe": ["doc.summarize"] },
        kinds: { ...d.kinds, doc_summarize: { profile: "E\u0301quipe", requires: ["doc.summarize"] } },
        protocols: [...d.protocols, { job_kind: "doc_edit", protocol_id: "re\u0301sume\u0301.v1", profile: "E\u0301quipe", requires: [] }]
      })
      assert.strictEqual(capabilities.placementFor({ job_kind: "doc_summarize", protocol_id: "p" })?.profile, "\u00c9quipe")
      for (const protocol_id of ["r\u00e9sum\u00e9.v1", "re\u0301sume\u0301.v1"]) {
        assert.strictEqual(capabilities.placementFor({ job_kind: "doc_edit", protocol_id })?.profile, "\u00c9quipe")
      }
      for (const requested of ["\u00c9quipe", "E\u0301quipe"]) {
        const verdict = yield* capabilities.check({ job_kind: "doc_summarize", protocol_id: "p" }, requested)
        assert.strictEqual(verdict._tag, "Granted")
        assert.strictEqual(verdict._tag === "Granted" ? verdict.profile_id : undefined, "\u00c9quipe")
        assert.isTrue(yield* capabilities.profileCan(requested, "doc.summarize"))
      }
      const twice = yield* Effect.flip(Capabilities.make({ ...d, profiles: { ...d.profiles, "\u00c9quipe": [], "E\u0301quipe": ["fs.read"] } }))
      assert.strictEqual(twice._tag, "DecodeFailure")
      assert.deepStrictEqual(twice._tag === "DecodeFailure" ? twice.issues.map((issue) => issue.path) : [], ["profiles.E\u0301quipe"])
    }))

  it.effect("R15 two profiles NFC makes one are refused with a message an operator can tell apart: each name in ASCII escapes (E\\u0301quipe, \\u00c9quipe), not the same rendered Équipe twice", () =>
    Effect.gen(function*() {
      const d = Capabilities.defaultConfig
      const twice = yield* Effect.flip(Capabilities.make({ ...d, profiles: { ...d.profiles, "\u00c9quipe": [], "E\u0301quipe": ["fs.read"] } }))
      assert.deepStrictEqual(twice._tag === "DecodeFailure" ? twice.issues : twice._tag, [{
        path: "profiles.E\u0301quipe",
        message: String.raw`"E\u0301quipe" and the profile "\u00c9quipe" are one name once NFC-normalised ("\u00c9quipe"): one would lose its grants`
      }])
    }))


  it.effect("R15 a policy without its shape (a placement without requires, a kind left out, profiles: null, a grant list that is no list, protocols: undefined, {}, a throwing getter) is a DecodeFailure naming the path when built, by make and by layer: never a defect, never serving", () =>
    Effect.gen(function*() {
      const d = Capabilities.defaultConfig
      const malformed: ReadonlyArray<readonly [string, unknown, string]> = [
        ["a placement without requires", { ...d, kinds: { ...d.kinds, doc_edit: { profile: "Coder" } } }, "kinds.doc_edit.requires"],
        ["a kind left out", { ...d, kinds: { ...d.kinds, doc_edit: undefined } }, "kinds.doc_edit"],
        ["profiles: null", { ...d, profiles: null }, "profiles"],
        ["a grant list that is no list", { ...d, profiles: { ...d.profiles, X: "fs.read" } }, "profiles.X"],
        ["protocols: undefined", { ...d, protocols: undefined }, "protocols"],
        ["a protocol override of no kind", { ...d, protocols: [{ ...d.protocols[0], job_kind: "nope" }] }, "protocols.0.job_kind"],
        ["{}", {}, "axes"],
        ["a throwing getter", Object.defineProperty({ ...d }, "ids", { enumerable: true, get: () => { throw new Error("getter") } }), ""]
      ]
      for (const [name, config, path] of malformed) {
        const builds: ReadonlyArray<readonly [string, () => Effect.Effect<unknown, unknown>]> = [
          ["make", () => Capabilities.make(config as never)],
          ["layer", () => Effect.scoped(Layer.build(Capabilities.layer(config as never)))]
        ]
        for (const [how, build] of builds) {
          const exit = yield* Effect.exit(Effect.suspend(build))
          const error = exit._tag === "Failure" && exit.cause._tag === "Fail" ? exit.cause.error : undefined
          const failure = error as { readonly _tag?: string; readonly issues?: ReadonlyArray<{ readonly path: string }> } | undefined
          assert.strictEqual(failure?._tag, "DecodeFailure", `${how}: ${name}: ${String(exit)}`)
          const paths = failure?.issues?.map((issue) => issue.path) ?? []
          assert.include(paths, path, `${how}: ${name}: ${JSON.stringify(paths)}`)
        }
      }
      // The shape right and a name unknown: still the registry's own refusal.
      const unknown = yield* Effect.flip(Capabilities.make({ ...d, kinds: { ...d.kinds, doc_edit: { profile: "Nobody", requires: [] } } }))
      assert.strictEqual(unknown._tag, "UnknownProfile")
    }))
})

describe("R1a a subject given past its types (a JS caller, a cast) to Capabilities.check", () => {
  it.effect("R1a check reads the legacy kind term_exec as terminal_exec, and refuses a kind it does not know or a protocol that is no text with DecodeFailure naming the field, never a defect", () =>
    Effect.gen(function*() {
      const capabilities = yield* Capabilities.make(Capabilities.defaultConfig)
      const alias = { job_kind: "term_exec", protocol_id: "hsk.demo.v1" } as unknown as Capabilities.JobSubject
      const canonical = { job_kind: "terminal_exec", protocol_id: "hsk.demo.v1" } as const
      assert.deepStrictEqual(yield* capabilities.check(alias), yield* capabilities.check(canonical))
      assert.deepStrictEqual(yield* capabilities.check(alias, "Coder"), yield* capabilities.check(canonical, "Coder"))
      assert.deepStrictEqual(capabilities.placementFor(alias), capabilities.placementFor(canonical))
      const refused = yield* capabilities.check(alias, "Analyst")
      assert.strictEqual(refused._tag, "Refused")
      // The refusal names the canonical kind, as it would for the job once stored.
      assert.strictEqual(refused._tag === "Refused" ? refused.error._tag === "EscalationDenied" && refused.error.job_kind : "", "terminal_exec")
      for (const [subject, path] of [
        [{ job_kind: "doc_sumarize", protocol_id: "hsk.demo.v1" }, "job_kind"],
        [{ job_kind: undefined, protocol_id: "hsk.demo.v1" }, "job_kind"],
        [{ job_kind: "doc_summarize", protocol_id: 7 }, "protocol_id"]
      ] as const) {
        const exit = yield* Effect.exit(capabilities.check(subject as unknown as Capabilities.JobSubject))
        assert.isTrue(exit._tag === "Failure" && exit.cause._tag === "Fail", JSON.stringify(subject))
        const error = exit._tag === "Failure" && exit.cause._tag === "Fail" ? exit.cause.error : undefined
        assert.strictEqual(error?._tag, "DecodeFailure")
        assert.deepStrictEqual(error?.issues.map((issue) => issue.path), [path])
      }
      // A subject whose field throws when read (a getter, a proxy): a DecodeFailure inside the Effect,
      // never a throw out of `check` itself (found by a regression probe: it threw before any Effect existed).
      const throwing = { get job_kind(): string { throw new Error("boom") }, protocol_id: "hsk.demo.v1" }
      const made = Effect.try(() => capabilities.check(throwing as unknown as Capabilities.JobSubject))
      const call = yield* Effect.either(made)
      assert.strictEqual(call._tag, "Right", "check returned an Effect")
      const exit = yield* Effect.exit(Effect.flatten(made))
      assert.isTrue(exit._tag === "Failure" && exit.cause._tag === "Fail" && exit.cause.error._tag === "DecodeFailure", String(exit))
    }))

  it.effect("R1a a subject's fields are read once: a getter that throws on its second read gets the verdict of its first, never a defect", () =>
    Effect.gen(function*() {
      const capabilities = yield* Capabilities.make(Capabilities.defaultConfig)
      const once = (kind: string) => {
        let reads = 0
        return {
          get job_kind(): string {
            if (reads++ > 0) throw new Error("read twice")
            return kind
          },
          protocol_id: "hsk.demo.v1"
        } as unknown as Capabilities.JobSubject
      }
      const canonical = { job_kind: "doc_summarize", protocol_id: "hsk.demo.v1" } as const
      assert.deepStrictEqual(yield* capabilities.check(once("doc_summarize")), yield* capabilities.check(canonical))
      // The refusal paths read the kind again for their error: still the first read.
      assert.deepStrictEqual(yield* capabilities.check(once("doc_summarize"), "Operator"), yield* capabilities.check(canonical, "Operator"))
      assert.deepStrictEqual(capabilities.placementFor(once("doc_summarize")), capabilities.placementFor(canonical))
    }))

  it.effect("R1a a requested profile that is no text (a JS caller's) is a DecodeFailure, never a defect", () =>
    Effect.gen(function*() {
      const capabilities = yield* Capabilities.make(Capabilities.defaultConfig)
      for (const requested of [5, null, {}, ["Coder"], Symbol("Coder")]) {
        const exit = yield* Effect.exit(capabilities.check({ job_kind: "doc_summarize", protocol_id: "hsk.demo.v1" }, requested as unknown as string))
        assert.isTrue(exit._tag === "Failure" && exit.cause._tag === "Fail", String(requested))
        const error = exit._tag === "Failure" && exit.cause._tag === "Fail" ? exit.cause.error : undefined
        assert.strictEqual(error?._tag, "DecodeFailure")
        assert.strictEqual(error?.subject, "RequestedProfile")
      }
    }))

  it.effect("R15 profileCan with an id that is no text (a JS caller's) is a DecodeFailure naming the argument, the profile first, never a defect", () =>
    Effect.gen(function*() {
      const capabilities = yield* Capabilities.make(Capabilities.defaultConfig)
      // profileCan(5, …) died building UnknownProfile ("Expected string, actual 5"), profileCan("Analyst", 5) with a TypeError.
      for (const [profile, capability, subject, got] of [
        [5, "fs.read", "ProfileId", "number"],
        ["Analyst", 5, "CapabilityId", "number"],
        [null, null, "ProfileId", "null"],
        [{}, "fs.read", "ProfileId", "object"],
        ["Analyst", ["fs.read"], "CapabilityId", "object"],
        ["Analyst", undefined, "CapabilityId", "undefined"]
      ] as const) {
        const exit = yield* Effect.exit(capabilities.profileCan(profile as unknown as string, capability as unknown as string))
        assert.isTrue(exit._tag === "Failure" && exit.cause._tag === "Fail", `${String(profile)}, ${String(capability)}`)
        const error = exit._tag === "Failure" && exit.cause._tag === "Fail" ? exit.cause.error : undefined
        assert.strictEqual(error?._tag, "DecodeFailure")
        assert.strictEqual(error?._tag === "DecodeFailure" ? error.subject : undefined, subject)
        assert.include(error?.message, `got ${got}`)
      }
      assert.isTrue(yield* capabilities.profileCan("Analyst", "fs.read"))
    }))

  it.effect("R15 placementFor a subject that is no job's (a kind the policy does not know, a protocol that is no text) is undefined, as its type says, where check is a DecodeFailure", () =>
    Effect.gen(function*() {
      const capabilities = yield* Capabilities.make(Capabilities.defaultConfig)
      const throwing = { job_kind: "doc_summarize", get protocol_id(): string { throw new Error("read") } }
      for (const subject of [{ job_kind: "nope", protocol_id: "p" }, { job_kind: "doc_summarize", protocol_id: 5 }, throwing, null]) {
        const job = subject as unknown as Capabilities.JobSubject
        assert.isUndefined(capabilities.placementFor(job))
        assert.strictEqual((yield* Effect.flip(capabilities.check(job)))._tag, "DecodeFailure")
      }
      assert.strictEqual(capabilities.placementFor({ job_kind: "doc_summarize", protocol_id: "p" })?.profile, "Analyst")
    }))
})

describe("R1a term_exec and unknown keys in an application's own policy (Capabilities.make)", () => {
  it.effect("R1a an override's job_kind term_exec is read as terminal_exec, as every reader of a kind reads it", () =>
    Effect.gen(function*() {
      const override = { job_kind: "term_exec", protocol_id: "hsk.term.v1", profile: "Operator", requires: ["fs.read"] }
      const capabilities = yield* Capabilities.make({
        ...Capabilities.defaultConfig,
        protocols: [...Capabilities.defaultConfig.protocols, override as unknown as Capabilities.ProtocolOverride]
      })
      const placement = capabilities.placementFor({ job_kind: "terminal_exec", protocol_id: "hsk.term.v1" })!
      assert.deepStrictEqual([placement.profile, placement.requires], ["Operator", ["fs.read"]])
    }))

  it.effect("R17 a key the policy does not name (kinds.term_exec beside terminal_exec, a misspelt option, a placement's extra field) is refused naming it, never dropped", () =>
    Effect.gen(function*() {
      for (const [config, path] of [
        [{ ...Capabilities.defaultConfig, kinds: { ...Capabilities.defaultConfig.kinds, term_exec: { profile: "Operator", requires: [] } } }, "kinds.term_exec"],
        [{ ...Capabilities.defaultConfig, protocol: [] }, "protocol"],
        [{ ...Capabilities.defaultConfig, kinds: { ...Capabilities.defaultConfig.kinds, doc_edit: { profile: "Coder", requires: [], require: ["proc.exec"] } } }, "kinds.doc_edit.require"]
      ] as const) {
        const error = yield* Effect.flip(Capabilities.make(config as unknown as Capabilities.CapabilityConfig))
        assert.strictEqual(error._tag, "DecodeFailure", path)
        assert.deepStrictEqual(error._tag === "DecodeFailure" ? error.issues.map((issue) => issue.path) : [], [path])
      }
    }))

  it.effect("R1a a policy keyed by term_exec in place of terminal_exec is refused saying to key it terminal_exec", () =>
    Effect.gen(function*() {
      const { terminal_exec, ...others } = Capabilities.defaultConfig.kinds
      const config = { ...Capabilities.defaultConfig, kinds: { ...others, term_exec: terminal_exec } }
      const error = yield* Effect.flip(Capabilities.make(config as unknown as Capabilities.CapabilityConfig))
      assert.strictEqual(error._tag, "DecodeFailure")
      const issues = error._tag === "DecodeFailure" ? error.issues : []
      assert.deepStrictEqual(issues.map((issue) => issue.path), ["kinds.term_exec", "kinds.terminal_exec"])
      assert.include(issues[0]!.message, "legacy name of terminal_exec")
      assert.include(issues[0]!.message, "key it terminal_exec")
    }))
})

describe("R1a a legacy subject's fields are read once too (found by a regression probe)", () => {
  it.effect("R1a a subject whose kind is term_exec, behind a getter that throws on its second read, gets terminal_exec's verdict and placement", () =>
    Effect.gen(function*() {
      const capabilities = yield* Capabilities.make(Capabilities.defaultConfig)
      const legacyOnce = () => {
        let reads = 0
        return {
          get job_kind(): string {
            if (reads++ > 0) throw new Error("read twice")
            return "term_exec"
          },
          protocol_id: "hsk.demo.v1"
        } as unknown as Capabilities.JobSubject
      }
      const canonical = { job_kind: "terminal_exec", protocol_id: "hsk.demo.v1" } as const
      assert.deepStrictEqual(yield* capabilities.check(legacyOnce()), yield* capabilities.check(canonical))
      assert.deepStrictEqual(yield* capabilities.check(legacyOnce(), "Coder"), yield* capabilities.check(canonical, "Coder"))
      assert.deepStrictEqual(capabilities.placementFor(legacyOnce()), capabilities.placementFor(canonical))
    }))
})
