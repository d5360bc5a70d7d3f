/**
 * Issue 16, R14: the fixed-shape constructors of library events
 * (`FlightRecorder.build`) treat caller text exactly as the decode path
 * (`FlightRecorder.prepare`) does: NFC, redaction, the storable-text rule
 * (U+0000, lone surrogates), labels a rule empties, the size bound. Each case
 * builds one event both ways, from the same fields, under the same policy,
 * and requires the same stored record — the body byte for byte as JSON — or
 * the same error.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import type { EventRecord } from "../../src/domain/EventRecord.js"
import type { EventId, JobId, TraceId, WorkflowRunId } from "../../src/domain/Ids.js"
import type { JobState } from "../../src/domain/JobState.js"
import { type LibraryEvent, makeBuild } from "../../src/internal/flight/libraryEvents.js"
import { makePrepare } from "../../src/internal/flight/prepare.js"
import * as Redactor from "../../src/internal/flight/Redactor.js"
import { hostileText } from "./fixtures.js"

const ids = {
  event: "0190a000-0000-7000-8000-00000000000e" as EventId,
  trace: "0190a000-0000-7000-8000-00000000000f" as TraceId,
  job: "0190a000-0000-7000-8000-00000000000a" as JobId,
  run: "0190a000-0000-7000-8000-00000000000b" as WorkflowRunId
}
const at = DateTime.unsafeMake(Date.UTC(2026, 0, 2, 3, 4, 5, 678))
const iso = DateTime.formatIso(at)

/** A policy with the default rules plus one that empties a whole field: a label it hits must be refused both ways. */
const redactor = Redactor.make({ rules: [{ name: "erase", pattern: /^ERASE-ME$/, replacement: "" }] })
const maxEventBytes = 4 * 1024
const build = makeBuild({ redactor, maxEventBytes })
const prepare = makePrepare({ redactor, maxEventBytes })

/** Each library event kind with caller text `t` in every caller-text field: the typed fields and the JSON a caller would send. */
const cases = (t: string, u: string): ReadonlyArray<readonly [string, LibraryEvent, Record<string, unknown>]> => {
  const envelope = { event_id: ids.event, timestamp: iso, trace_id: ids.trace, job_id: ids.job }
  const typed = { event_id: ids.event, timestamp: at, trace_id: ids.trace, job_id: ids.job }
  const lifecycle = (from: JobState | null, to: JobState, reason: string | undefined) =>
    [
      `lifecycle ${from}->${to}`,
      {
        kind: "lifecycle",
        ...typed,
        actor: "human",
        workflow_run_id: ids.run,
        from_state: from,
        to_state: to,
        ...(reason !== undefined ? { reason } : {}),
        attempt: 2,
        run_after: at
      },
      {
        ...envelope,
        actor: "human",
        workflow_run_id: ids.run,
        type: "system",
        from_state: from,
        to_state: to,
        ...(reason !== undefined ? { reason } : {}),
        attempt: 2,
        run_after: iso
      }
    ] as const
  return [
    lifecycle("failed", "queued", t),
    lifecycle(null, "queued", undefined),
    [
      "capability",
      {
        kind: "capability",
        ...typed,
        capability_id: t,
        actor_id: u,
        decision_outcome: "deny"
      },
      {
        ...envelope,
        actor: "system",
        type: "capability_action",
        capability_id: t,
        actor_id: u,
        decision_outcome: "deny"
      }
    ],
    [
      "recovery",
      {
        kind: "recovery",
        ...typed,
        workflow_run_id: ids.run,
        reason: t,
        last_heartbeat_ts: at,
        threshold_secs: 30
      },
      {
        ...envelope,
        actor: "system",
        type: "workflow_recovery",
        workflow_run_id: ids.run,
        from_state: "running",
        to_state: "stalled",
        reason: t,
        last_heartbeat_ts: iso,
        threshold_secs: 30
      }
    ],
    [
      "security_violation",
      {
        kind: "security_violation",
        ...typed,
        workflow_run_id: ids.run,
        violation: u,
        detail: t
      },
      { ...envelope, actor: "system", type: "security_violation", workflow_run_id: ids.run, violation: u, detail: t }
    ],
    [
      "gc_summary",
      {
        kind: "gc_summary",
        event_id: ids.event,
        timestamp: at,
        trace_id: ids.trace,
        ...counts
      },
      {
        event_id: ids.event,
        timestamp: iso,
        actor: "system",
        trace_id: ids.trace,
        type: "system",
        event_type: "meta.gc_summary",
        event_name: "gc_summary",
        ...counts
      }
    ]
  ]
}

/** A Janitor pass's counts, as both forms carry them. */
const counts = { items_scanned: 3, items_pruned: 2, items_spared_pinned: 1, items_spared_window: 0, dry_run: false, events_purged: 7 }

/** A record or an error, in a form two runs can be compared by. */
const outcome = (effect: Effect.Effect<EventRecord, { readonly _tag: string }>) =>
  Effect.map(Effect.exit(effect), (exit) =>
    Exit.match(exit, {
      onSuccess: (record) => ({
        ok: true,
        columns: [record.event_id, DateTime.formatIso(record.timestamp), record.actor, record.type, record.trace_id, record.job_id, record.workflow_run_id],
        // Byte for byte: the same keys in the same order, so SQLite stores the same text.
        body: JSON.stringify(record.body)
      }),
      onFailure: (cause) => ({ ok: false, error: JSON.stringify(cause) })
    }))

const sameBothWays = (t: string, u: string) =>
  Effect.forEach(cases(t, u), ([name, typed, json]) =>
    Effect.gen(function*() {
      const built = yield* outcome(build(typed))
      const decoded = yield* outcome(prepare(json))
      assert.deepStrictEqual(built, decoded, `${name} with ${JSON.stringify(t)} / ${JSON.stringify(u)}`)
      return built
    }))

const hostile = hostileText

describe("issue 16 library event constructors and the decode path agree on caller text (R14)", () => {
  it.effect("issue 16 R14 hostile caller text (U+0000, lone surrogates, secrets, NFD, emptied labels, oversize) gives the same record or error both ways", () =>
    Effect.gen(function*() {
      const seen = new Set<string>()
      for (const t of hostile) {
        for (const u of hostile) {
          for (const result of yield* sameBothWays(t, u)) {
            seen.add(result.ok ? "ok" : (result as { readonly error: string }).error.match(/"_tag":"(InvalidEvent|EventTooLarge)"/)?.[1] ?? "other")
          }
        }
      }
      // The table reached every outcome: stored, refused as invalid, refused as too large.
      assert.deepStrictEqual([...seen].sort(), ["EventTooLarge", "InvalidEvent", "ok"])
    }))

  it.effect("issue 16 R14 random text with hostile pieces gives the same record or error both ways", () =>
    Effect.sync(() => {
      const piece = FastCheck.oneof(
        FastCheck.string({ unit: "binary", maxLength: 8 }),
        FastCheck.constantFrom(...hostile.slice(1, -1))
      )
      const text = FastCheck.array(piece, { maxLength: 4 }).map((pieces) => pieces.join(""))
      FastCheck.assert(
        FastCheck.property(text, text, (t, u) => {
          Effect.runSync(sameBothWays(t, u))
        }),
        { numRuns: 200 }
      )
    }), 120_000)

  it.effect("issue 16 a redaction rule never touches the ids, states and times of a library event", () =>
    Effect.gen(function*() {
      // A careless rule that would match any UUID: ids are not text, so the event is still written intact.
      const greedy = makeBuild({ redactor: Redactor.make({ rules: [{ name: "uuid", pattern: /[0-9a-f-]{36}/g, replacement: "[ID]" }] }), maxEventBytes })
      const [, typed] = cases("a reason naming 0190a000-0000-7000-8000-00000000000a", "p")[0]!
      const record = yield* greedy(typed)
      assert.strictEqual(record.body.job_id, ids.job)
      assert.strictEqual(record.body.workflow_run_id, ids.run)
      assert.strictEqual(record.body.reason, "a reason naming [ID]")
    }))
})
