/**
 * The demo's jobs and what their workers do. The work is simulated (short
 * sleeps, a canned model reply), but every record it leaves — node
 * executions, heartbeats, events, metrics — is written by the real services.
 */
import { uuidv7 } from "../../domain/uuidv7.js"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { JobRequestInput } from "../../domain/AiJob.js"
import type { Json } from "../../domain/Json.js"
import type { JobKind } from "../../domain/JobKind.js"
import * as FlightRecorder from "../../FlightRecorder.js"
import type { RunContext } from "../../Jobs.js"

/**
 * A new job of `kind`, with a trace id the demo knows in advance. It names no
 * capability profile: the policy gives each kind its own.
 */
export const newJob = (kind: JobKind, inputs: Json, entity: string) => ({
  job_kind: kind,
  protocol_id: `hsk.demo.${kind}.v1`,
  profile_id: "demo-operator",
  access_mode: kind === "terminal_exec" ? "apply_scoped" : "analysis_only",
  safety_mode: "normal",
  entity_refs: [{ entity_id: entity, entity_kind: kind === "terminal_exec" ? "workspace" : "document" }],
  planned_operations: [{ op_type: kind === "terminal_exec" ? "execute" : "read", target: { entity_id: entity, entity_kind: "document" } }],
  job_inputs: inputs,
  trace_id: uuidv7()
} satisfies JobRequestInput)

/** Simulated work: long enough that the run's heartbeat fires several times. */
const work = (ms: number) => Effect.sleep(`${ms} millis`)

/** A four-node summarisation with a (simulated) model call recorded as an `llm_inference` event. */
export const summarize = (context: RunContext) =>
  Effect.gen(function*() {
    const { job, node, run } = context
    const text = yield* node({ node_id: "load", node_type: "fetch", input: { entity: "doc-42" } },
      Effect.as(work(60), { chars: 18_240, sections: 6 }))
    const chunks = yield* node({ node_id: "chunk", node_type: "transform", input: text },
      Effect.as(work(40), { chunks: 4 }))
    const summary = yield* node({ node_id: "summarize", node_type: "llm", input: chunks },
      Effect.gen(function*() {
        yield* work(90)
        yield* FlightRecorder.FlightRecorder.pipe(Effect.flatMap((recorder) =>
          Effect.flatMap(FlightRecorder.makeEvent("llm_inference", {
            actor: "agent",
            trace_id: job.trace_id,
            job_id: job.job_id,
            workflow_run_id: run.id,
            model_id: "demo-model-small",
            token_usage: { prompt_tokens: 1830, completion_tokens: 212, total_tokens: 2042 },
            latency_ms: 90
          }), recorder.record)))
        return { summary: "Quarterly plan: three goals, two risks, one open question.", tokens: 2042 }
      }))
    yield* node({ node_id: "validate", node_type: "check", input: summary }, Effect.as(work(30), { ok: true, checks: 3 }))
    return summary
  })

/** A two-node spreadsheet transform whose result has a caveat (ends `completed_with_issues`). */
export const transformSheet = (context: RunContext) =>
  Effect.gen(function*() {
    const rows = yield* context.node({ node_id: "read", node_type: "fetch", input: { sheet: "budget.xlsx" } },
      Effect.as(work(50), { rows: 120 }))
    return yield* context.node({ node_id: "normalise", node_type: "transform", input: rows },
      Effect.as(work(50), { rows: 118, skipped: 2, issue: "2 rows had unparseable dates" }))
  })

/** A command that exits non-zero: how a terminal job fails. */
export class CommandFailed extends Schema.TaggedError<CommandFailed>()("CommandFailed", {
  command: Schema.String,
  exit_code: Schema.Number
}) {
  override get message(): string {
    return `${this.command} exited with code ${this.exit_code}`
  }
}

/** A terminal job: a plan node, then a command that fails; its `terminal_command` event is recorded. */
export const runTests = (context: RunContext) =>
  Effect.gen(function*() {
    const { job, node, run } = context
    const command = "npm test -- --run"
    yield* node({ node_id: "plan", node_type: "plan", input: { goal: "run the test suite" } }, Effect.as(work(30), { command }))
    return yield* node({ node_id: "exec", node_type: "terminal", input: { command, cwd: "/workspace/app" } },
      Effect.gen(function*() {
        yield* work(80)
        const recorder = yield* FlightRecorder.FlightRecorder
        yield* Effect.flatMap(FlightRecorder.makeEvent("terminal_command", {
          actor: "agent",
          trace_id: job.trace_id,
          job_id: job.job_id,
          workflow_run_id: run.id,
          // The terminal session is the run: one shell per run in the demo.
          session_id: run.id,
          command,
          exit_code: 1,
          cwd: "/workspace/app",
          duration_ms: 80
        }), recorder.record)
        return yield* new CommandFailed({ command, exit_code: 1 })
      }))
  })
