/**
 * The operator CLI's arguments under hostile input (issue 8, part 4).
 *
 * In process, 10,000 generated values per check: the validators every
 * command applies to its flags (src/cli/parse.ts — kinds, states, event
 * types, lists, ids, durations, times, integers) answer a correct value or a
 * one-line `BadInput`; and @effect/cli's own parsing of whole argument
 * vectors (the real command tree) answers a directive or a ValidationError,
 * never a defect. `main.ts` runs itself on import, so it cannot be called in
 * process: a bounded number of real `ai-jobs` processes check the whole path
 * (exit code 1 or 2 with one line on stderr, never a stack trace).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as Descriptor from "@effect/cli/CommandDescriptor"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as fc from "effect/FastCheck"
import { demoCommand } from "../../src/cli/demo.js"
import { eventsCommand } from "../../src/cli/events.js"
import { jobsCommand } from "../../src/cli/jobs.js"
import { migrateCommand } from "../../src/cli/migrate.js"
import type { BadInput } from "../../src/cli/errors.js"
import * as Parse from "../../src/cli/parse.js"
import { pruneCommand } from "../../src/cli/prune.js"
import { recoverCommand } from "../../src/cli/recover.js"
import { retentionCommand } from "../../src/cli/retention.js"
import { EventTypes } from "../../src/domain/EventRecord.js"
import { JobId } from "../../src/domain/Ids.js"
import { JobKinds } from "../../src/domain/JobKind.js"
import { JobStates } from "../../src/domain/JobState.js"
import { evilString, injections, nearMiss } from "./arbitraries.js"
import { runCli } from "./children.js"
import { counts, seed, seedFor } from "./config.js"
import { report } from "./report.js"

/** The same command tree main.ts runs. */
const root = Command.make("ai-jobs").pipe(
  Command.withSubcommands([demoCommand, migrateCommand, recoverCommand, jobsCommand, eventsCommand, pruneCommand, retentionCommand])
)

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const MAX_INSTANT = Date.UTC(9999, 11, 31, 23, 59, 59, 999)

/** A flag's validator and what a correct answer is. */
interface Validator {
  readonly name: string
  readonly valid: ReadonlyArray<string>
  readonly run: (value: string) => Effect.Effect<unknown, BadInput>
  /** Whether `value` must be accepted; when accepted, whether the result is right. */
  readonly accepts: (value: string) => boolean
  readonly correct: (value: string, result: unknown) => boolean
}

const oneOf = (name: string, accepted: ReadonlyArray<string>, run: Validator["run"]): Validator => ({
  name,
  valid: accepted,
  run,
  accepts: (v) => accepted.includes(v),
  correct: (v, r) => r === v
})

const listOf = (name: string, accepted: ReadonlyArray<string>, run: Validator["run"]): Validator => ({
  name,
  valid: [accepted.join(","), `${accepted[0]}, ${accepted[1]}`, accepted[0]!],
  run,
  // At least one item (a list of none, like `--state ""`, is bad input), none empty (`queued,` is bad input too), each one accepted.
  accepts: (v) => v.split(",").map((p) => p.trim()).every((p) => accepted.includes(p)),
  correct: (v, r) => JSON.stringify(r) === JSON.stringify(v.split(",").map((p) => p.trim()))
})

const integer = (flag: string, min: number, max: number): Validator => ({
  name: `integer ${flag}`,
  valid: [String(min), String(max), "10", " 7 "],
  run: Parse.integer(flag, min, max),
  // Decimal digits only, no padding (as the HTTP API's ?limit=; padding was trimmed until an outside probe).
  accepts: (v) => /^\d+$/.test(v) && Number(v) >= min && Number(v) <= max,
  correct: (v, r) => r === Number(v)
})

const validators: ReadonlyArray<Validator> = [
  oneOf("--kind", JobKinds, Parse.jobKind),
  oneOf("--state", JobStates, Parse.jobState),
  oneOf("--type", EventTypes, Parse.eventType),
  listOf("--state list", JobStates, Parse.list("--state", Parse.jobState)),
  listOf("--kind list", JobKinds, Parse.list("--kind", Parse.jobKind)),
  {
    name: "job id",
    valid: ["123e4567-e89b-42d3-a456-426614174000", "018f2c3d-4e5f-7a6b-8c9d-0e1f2a3b4c5d"],
    run: Parse.uuid("job id", JobId),
    // Any-case hex, not the nil UUID; accepted in the canonical lower-case form.
    accepts: (v) => UUID.test(v) && !/^[0-]+$/.test(v),
    correct: (v, r) => r === v.toLowerCase()
  },
  {
    name: "duration --older-than",
    valid: ["30d", "12h", "15m", "90s", "500ms", "2w"],
    run: Parse.duration("--older-than"),
    // Accepted: a whole number and a unit, at most 50 years (longer would reach before 1970).
    accepts: (v) => {
      const match = /^(\d+)(ms|s|m|h|d|w)$/.exec(v.trim())
      if (match === null) return false
      const perUnit: Record<string, number> = { ms: 1, s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5 }
      return Number(match[1]) * perUnit[match[2]!]! <= 365 * 50 * 864e5
    },
    correct: () => true
  },
  integer("--limit", 1, 1_000_000),
  integer("--keep", 0, 1_000_000_000),
  integer("--threshold", 1, 31_536_000)
]

/** `--since`: a duration ago or a calendar time, which must be a real instant the store can hold. */
const since: Validator = {
  name: "time --since",
  valid: ["2h", "7d", "2026-01-19", "2026-01-19T23:59:37Z", "2026-01-19T10:00+02:00"],
  run: Parse.since("--since"),
  accepts: () => false,
  correct: (v, r) => {
    if (!DateTime.isDateTime(r)) return false
    const ms = DateTime.toEpochMillis(r)
    if (!Number.isFinite(ms) || ms < 0 || ms > MAX_INSTANT) return false
    // A calendar date must be that date (no rollover of 2026-02-30 into March).
    const date = /^(\d{4})-(\d{2})-(\d{2})/.exec(v.trim())
    if (date !== null && !/[+-]\d{2}:\d{2}$/.test(v.trim())) {
      const utc = new Date(ms)
      return utc.getUTCFullYear() === Number(date[1]) && utc.getUTCMonth() + 1 === Number(date[2]) && utc.getUTCDate() === Number(date[3])
    }
    return true
  }
}

const numberish = fc.oneof(
  fc.nat().map(String),
  fc.bigInt().map(String),
  fc.double().map(String),
  fc.constantFrom("1e3", "0x10", "-1", "+1", "01", "1_000", "１２", "٣", "1.0", "", " ", "Infinity", "NaN", "9".repeat(400), "99999999999999999999d", "999999999w")
)

/** Values to try on a flag: near misses of its valid values, numbers in every spelling, hostile text. */
const valuesFor = (validator: Validator): fc.Arbitrary<string> =>
  fc.oneof(
    fc.constantFrom(...validator.valid),
    nearMiss(validator.valid),
    numberish,
    fc.tuple(fc.nat({ max: 99_999 }), fc.constantFrom("ms", "s", "m", "h", "d", "w", "y", "")).map(([n, u]) => `${n}${u}`),
    fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    fc.tuple(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 32 }))
      .map(([y, m, d]) => `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`),
    evilString
  )

type Answer = { readonly kind: "ok"; readonly value: unknown } | { readonly kind: "bad"; readonly message: string } | { readonly kind: "crash"; readonly detail: string }

const answer = (validator: Validator, value: string): Answer => {
  let exit: Exit.Exit<unknown, unknown>
  try {
    exit = Effect.runSyncExit(validator.run(value))
  } catch (error) {
    return { kind: "crash", detail: `thrown: ${String(error)}` }
  }
  if (Exit.isSuccess(exit)) return { kind: "ok", value: exit.value }
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "Some" && (failure.value as { readonly _tag?: unknown })._tag === "BadInput") {
    return { kind: "bad", message: (failure.value as { readonly message: string }).message }
  }
  return { kind: "crash", detail: Cause.pretty(exit.cause).slice(0, 300) }
}

const fuzzValidator = (validator: Validator) => {
  const tally = { accepted: 0, refused: 0 }
  fc.assert(
    fc.property(valuesFor(validator), (value) => {
      const result = answer(validator, value)
      if (result.kind === "crash") throw new Error(`${validator.name} ${JSON.stringify(value)}: ${result.detail}`)
      if (result.kind === "ok") {
        if (!validator.correct(value, result.value)) throw new Error(`${validator.name} accepted ${JSON.stringify(value)} as ${String(result.value)}`)
        tally.accepted += 1
      } else {
        if (validator.accepts(value)) throw new Error(`${validator.name} refused the valid ${JSON.stringify(value)}: ${result.message}`)
        if (result.message.includes("\n") && !value.includes("\n")) throw new Error(`${validator.name}: the refusal is not one line: ${result.message}`)
        tally.refused += 1
      }
    }),
    { numRuns: counts.cliArgvs, seed: seedFor(`cli-${validator.name}`), endOnFailure: true }
  )
  return tally
}

/** Argument vectors: a command path, then flags with generated values, unknown flags and stray words. */
const flags = ["--database", "--json", "--threshold", "--state", "--kind", "--since", "--limit", "--job", "--trace", "--type", "--older-than", "--keep", "--dry-run", "--help", "-h", "--version", "--wizard", "--completions", "--log-level", "--", "-", "--unknown"]
/** In a real process `--wizard` is interactive: it waits for answers on stdin (see RELIABILITY.md, limits). */
const processFlags = flags.filter((flag) => flag !== "--wizard")

const argvs = (flags: ReadonlyArray<string>): fc.Arbitrary<Array<string>> => {
  const commands = [["demo"], ["migrate"], ["recover"], ["jobs", "list"], ["jobs", "show"], ["events"], ["prune"], ["retention"], ["jobs"], [], ["bogus"]]
  const value = fc.oneof(evilString, fc.constantFrom(...injections), fc.constantFrom(...JobStates, ...JobKinds, "30d", "2h", "0", "-1", "1e9"))
  const item = fc.oneof({ weight: 3, arbitrary: fc.tuple(fc.constantFrom(...flags), value).map(([f, v]) => [f, v]) }, { weight: 1, arbitrary: fc.constantFrom(...flags).map((f) => [f]) }, { weight: 1, arbitrary: value.map((v) => [v]) })
  return fc.tuple(fc.constantFrom(...commands), fc.array(item, { maxLength: 6 })).map(([command, items]) => [...command, ...items.flat()])
}

describe("reliability: the CLI's arguments under hostile input", () => {
  for (const validator of validators) {
    it(`R17 the CLI's ${validator.name} check answers ${counts.cliArgvs} generated values with a correct value or a one-line BadInput`, () => {
      const tally = fuzzValidator(validator)
      report(`fuzz-cli-${validator.name}`, { seed, values: counts.cliArgvs, ...tally })
      assert.strictEqual(tally.accepted + tally.refused, counts.cliArgvs)
    }, 120_000)
  }

  it("R17 the CLI's --since check refuses times that are not real instants in 1970–9999 (2026-02-30, 999999999w ago) with BadInput", () => {
    const wrong: Array<string> = []
    for (const value of ["2026-02-30", "2026-02-31T10:00Z", "2025-02-29", "0000-01-01", "999999999w", "9007199254740993w", "99999999999999999999d"]) {
      const result = answer(since, value)
      if (result.kind !== "bad") wrong.push(`${value}: ${result.kind === "ok" ? `accepted as ${String(result.value)}` : result.detail.split("\n")[0]}`)
    }
    assert.deepStrictEqual(wrong, [], "a bad --since is refused before anything is opened (today: rolled over into March, or a RangeError defect later)")
  })

  it(`R17 @effect/cli parses ${counts.cliArgvs} generated argument vectors of the real command tree to a directive or a ValidationError, never a defect`, async () => {
    // The parser Command.run uses, on the real command tree's descriptor, without running any handler.
    const parse = (argv: ReadonlyArray<string>) => Descriptor.parse(root.descriptor, ["ai-jobs", ...argv], CliConfig.defaultConfig)
    const outcomes = { parsed: 0, refused: 0 }
    const samples = fc.sample(argvs(flags), { numRuns: counts.cliArgvs, seed: seedFor("cli-argv") })
    const exits = await Effect.runPromise(Effect.forEach(samples, (argv) => Effect.exit(parse(argv))).pipe(Effect.provide(NodeContext.layer)))
    exits.forEach((exit, i) => {
      if (Exit.isSuccess(exit)) outcomes.parsed += 1
      else if (Cause.failureOption(exit.cause)._tag === "Some") outcomes.refused += 1
      else assert.fail(`argv ${JSON.stringify(samples[i])} made the parser die: ${Cause.pretty(exit.cause).slice(0, 400)}`)
    })
    report("fuzz-cli-argv-in-process", { seed, argvs: samples.length, ...outcomes })
    assert.strictEqual(outcomes.parsed + outcomes.refused, counts.cliArgvs)
    assert.isAbove(outcomes.refused, 0)
  }, 300_000)

  it(`R17 ${counts.cliProcesses} real ai-jobs processes with hostile arguments exit 1 or 2 with one line on stderr, never a stack trace`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-cli-fuzz-"))
    const database = path.join(dir, "missing.db")
    // An argv entry is a C string: a NUL cannot reach a process at all (Node refuses it before
    // spawning), so these vectors hold none; the in-process parser test above keeps them.
    const deliverable = argvs(processFlags).filter((argv) => argv.every((arg) => !arg.includes("\u0000")))
    const samples = fc.sample(deliverable, { numRuns: counts.cliProcesses, seed: seedFor("cli-process") })
      // Never let a generated argv run the demo or migrate against the working directory: point every command at a temp file.
      .map((argv) => [...argv, "--database", database])
    const codes: Record<string, number> = {}
    try {
      for (const argv of samples) {
        const run = await runCli(argv, { DATABASE_URL: "", HSK_CWD: dir })
        codes[String(run.code)] = (codes[String(run.code)] ?? 0) + 1
        assert.include([0, 1, 2], run.code, `argv ${JSON.stringify(argv)} exited ${run.code}: ${run.stderr.slice(0, 400)}`)
        assert.notMatch(run.stderr, /^\s+at .+:\d+:\d+\)?$/m, `argv ${JSON.stringify(argv)} printed a stack trace`)
        assert.notInclude(run.stderr, "unexpected failure", `argv ${JSON.stringify(argv)} hit a defect`)
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
    report("fuzz-cli-processes", { seed, processes: samples.length, exitCodes: codes })
  }, 600_000)
})
