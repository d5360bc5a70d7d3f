/**
 * Issue 16: the per-event cost of the events the library writes itself,
 * before and after the fixed-shape constructors, side by side in one run.
 *
 * before: what the job code did until now for each audit event — build the
 *         JSON with `makeEvent` and hand it to `FlightRecorder.prepare`
 *         (decode against the type's schema, encode, sanitize, decode again,
 *         under a `FlightRecorder.prepare` span);
 * after:  the recorder's own builder (ownBuild.ts, what Jobs, Recovery and the
 *         Janitor use) with the typed fields.
 *
 * Both on the same recorder (default redaction, 64 KiB bound), in the same
 * process, interleaved rep by rep, so load hits both alike. No store write is
 * timed: only building the record a store would append. For scale, the last
 * column is what the store's port still spends checking that record
 * (`decodeEventRecords`, unchanged by this constructors).
 *
 *   npx tsx bench/libraryEvents.ts [events-per-rep=5000] [reps=9]
 */
import { loadavg } from "node:os"
import { performance } from "node:perf_hooks"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type { JobId, TraceId, WorkflowRunId } from "../src/domain/Ids.js"
import { uuidv7 } from "../src/domain/uuidv7.js"
import { FlightRecorder, type LibraryEvent, layer as recorderLayer, makeEvent } from "../src/FlightRecorder.js"
import { ownBuild } from "../src/internal/flight/ownBuild.js"
import { decodeEventRecords } from "../src/store/internal/portInput.js"
import * as SqliteJobStore from "../src/store/SqliteJobStore.js"

const perRep = Number(process.argv[2] ?? 5000)
const reps = Number(process.argv[3] ?? 9)

const job_id = uuidv7() as JobId
const trace_id = uuidv7() as TraceId
const workflow_run_id = uuidv7() as WorkflowRunId
const reason = "retry: attempt 2 of 3 after model timed out (Authorization: Bearer abc.def.ghi)"

/** One kind of library event: the JSON `makeEvent` built before, and the typed fields `build` takes now. */
interface Kind {
  readonly name: string
  readonly before: () => Effect.Effect<unknown>
  readonly after: LibraryEvent
}

const kinds: ReadonlyArray<Kind> = [
  {
    name: "lifecycle (failed → queued, reason, attempt, run_after)",
    before: () =>
      Effect.flatMap(DateTime.now, (now) =>
        makeEvent("system", {
          actor: "system",
          trace_id,
          job_id,
          workflow_run_id,
          from_state: "failed",
          to_state: "queued",
          reason,
          attempt: 2,
          run_after: DateTime.formatIso(now)
        })),
    after: { kind: "lifecycle", actor: "system", trace_id, job_id, workflow_run_id, from_state: "failed", to_state: "queued", reason, attempt: 2, run_after: DateTime.unsafeMake(Date.UTC(2026, 0, 1)) }
  },
  {
    name: "lifecycle (queued → running)",
    before: () => makeEvent("system", { actor: "system", trace_id, job_id, workflow_run_id, from_state: "queued", to_state: "running" }),
    after: { kind: "lifecycle", actor: "system", trace_id, job_id, workflow_run_id, from_state: "queued", to_state: "running" }
  },
  {
    name: "capability_action (allow)",
    before: () =>
      makeEvent("capability_action", {
        actor: "system",
        trace_id,
        job_id,
        capability_id: "doc.summarize",
        actor_id: "tester",
        decision_outcome: "allow"
      }),
    after: { kind: "capability", trace_id, job_id, capability_id: "doc.summarize", actor_id: "tester", decision_outcome: "allow" }
  },
  {
    name: "workflow_recovery",
    before: () =>
      makeEvent("workflow_recovery", {
        actor: "system",
        trace_id,
        job_id,
        workflow_run_id,
        from_state: "running",
        to_state: "stalled",
        reason: "stalled (startup recovery: heartbeat timeout): last heartbeat 2026-01-01T00:00:00.000Z, threshold 30s",
        last_heartbeat_ts: "2026-01-01T00:00:00.000Z",
        threshold_secs: 30
      }),
    after: {
      kind: "recovery",
      trace_id,
      job_id,
      workflow_run_id,
      reason: "stalled (startup recovery: heartbeat timeout): last heartbeat 2026-01-01T00:00:00.000Z, threshold 30s",
      last_heartbeat_ts: DateTime.unsafeMake(Date.UTC(2026, 0, 1)),
      threshold_secs: 30
    }
  },
  {
    name: "security_violation",
    before: () =>
      makeEvent("security_violation", { actor: "system", trace_id, job_id, workflow_run_id, violation: "prompt_injection", detail: reason }),
    after: { kind: "security_violation", trace_id, job_id, workflow_run_id, violation: "prompt_injection", detail: reason }
  },
  {
    name: "gc_summary",
    before: () =>
      makeEvent("system", {
        actor: "system",
        event_type: "meta.gc_summary",
        event_name: "gc_summary",
        items_scanned: 100,
        items_pruned: 90,
        items_spared_pinned: 4,
        items_spared_window: 6,
        dry_run: false
      }),
    after: { kind: "gc_summary", items_scanned: 100, items_pruned: 90, items_spared_pinned: 4, items_spared_window: 6, dry_run: false }
  }
]

/** µs per event of `count` runs of `make`, in one fiber. */
const perEvent = (count: number, make: () => Effect.Effect<unknown, unknown>) =>
  Effect.gen(function*() {
    const start = performance.now()
    for (let i = 0; i < count; i++) yield* make()
    return ((performance.now() - start) * 1000) / count
  })

const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const program = Effect.gen(function*() {
  const service = yield* FlightRecorder
  const recorder = { prepare: service.prepare, build: ownBuild(service) }
  const load = loadavg().map((x) => x.toFixed(2)).join(" ")
  console.log(`library events: ${perRep} events × ${reps} reps per kind, load average at start ${load}`)
  // Warm up both paths (JIT) before measuring.
  for (const kind of kinds) {
    yield* perEvent(2000, () => Effect.flatMap(kind.before(), recorder.prepare))
    yield* perEvent(2000, () => recorder.build(kind.after))
  }
  const rows: Array<string> = []
  for (const kind of kinds) {
    const before: Array<number> = []
    const after: Array<number> = []
    const port: Array<number> = []
    const records = [yield* recorder.build(kind.after)]
    for (let rep = 0; rep < reps; rep++) {
      before.push(yield* perEvent(perRep, () => Effect.flatMap(kind.before(), recorder.prepare)))
      after.push(yield* perEvent(perRep, () => recorder.build(kind.after)))
      port.push(yield* perEvent(perRep, () => decodeEventRecords(records)))
    }
    const b = median(before)
    const a = median(after)
    rows.push(`| ${kind.name} | ${b.toFixed(1)} | ${a.toFixed(1)} | ${(b / a).toFixed(1)}× | ${median(port).toFixed(1)} |`)
  }
  console.log("\n| event | before µs (median) | after µs (median) | speed-up | port check µs (unchanged) |\n|---|---:|---:|---:|---:|")
  for (const row of rows) console.log(row)
  console.log(`\nload average at end ${loadavg().map((x) => x.toFixed(2)).join(" ")}`)
})

Effect.runPromise(program.pipe(
  Effect.provide(recorderLayer()),
  Effect.provide(SqliteJobStore.layer({ filename: ":memory:" }))
)).catch((error) => {
  console.error(error)
  process.exit(1)
})
