/**
 * Output for people and for machines: aligned tables, an event timeline and
 * job details for a terminal, each fitted to a width (see layout.ts); for
 * `--json`, the domain objects encoded by their own Schemas, so the JSON is
 * the library's stable wire form.
 */
import * as DateTime from "effect/DateTime"
import * as Schema from "effect/Schema"
import { AiJob } from "../domain/AiJob.js"
import { StoredFlightEvent } from "../domain/LegacyFlightEvent.js"
import * as IdAbbreviation from "../domain/IdAbbreviation.js"
import type { Json } from "../domain/Json.js"
import { EvidenceMissing } from "../domain/RetentionHorizon.js"
import { NodeExecution, type NodeSummary, WorkflowRun } from "../domain/WorkflowRun.js"
import { INLINE_PAYLOAD_BYTES, withPayloadRefs } from "../internal/firstOfRuns.js"
import { cut, table, wrap } from "./layout.js"
import { outputWidth } from "./terminal.js"

/** `2026-01-19 23:59:37.328Z`: a timestamp a person can read, to the millisecond. */
export const time = (value: DateTime.Utc): string => DateTime.formatIso(value).replace("T", " ")

/** `2026-01-19 23:59:37Z`: a timestamp for a table column, to the second (`--json` has the milliseconds). */
export const tableTime = (value: DateTime.Utc): string => time(value).replace(/\.\d+Z$/, "Z")

/**
 * The short id of a UUID, its last 8 hex digits: enough to tell jobs apart,
 * and accepted wherever the CLI takes a job id (see domain/IdAbbreviation.ts).
 */
export const shortId = (id: string | null | undefined): string => (id === null || id === undefined ? "-" : IdAbbreviation.shortId(id))

/** Compact one-line JSON of a payload, cut to `max` characters. */
export const brief = (value: Json | null | undefined, max = 60): string =>
  value === null || value === undefined ? "-" : cut(JSON.stringify(value), max)

/** A payload's table cell: its brief, or its size when a summary left it out (`ai-jobs jobs node` shows it). */
const payloadCell = (value: Json | null, leftOut: number | null, max?: number): string =>
  leftOut === null ? brief(value, max) : `(${leftOut} bytes, left out)`

/** Pretty JSON followed by a newline, for `--json`. */
export const json = (value: unknown): string => JSON.stringify(value, null, 2)

const encodeAiJob = Schema.encodeSync(AiJob)
const encodeWorkflowRun = Schema.encodeSync(WorkflowRun)
const encodeNodeExecution = Schema.encodeSync(NodeExecution)
const encodeFlightEvent = Schema.encodeSync(StoredFlightEvent)
const encodeMissing = Schema.encodeSync(Schema.NullOr(EvidenceMissing))

/** A job in its encoded (wire) form. */
export const encodeJob = (job: AiJob) => encodeAiJob(job)
/** A workflow run in its encoded form. */
export const encodeRun = (run: WorkflowRun) => encodeWorkflowRun(run)
/** A node execution in its encoded form. */
export const encodeNode = (node: NodeExecution) => encodeNodeExecution(node)

/** A node summary in its encoded form: the node's, then each payload's reference (null, or `{ bytes, ...where }`). */
export const encodeNodeSummary = <W extends object>(node: NodeSummary, where: W) => {
  const { input_payload_ref, output_payload_ref } = withPayloadRefs(node, where)
  return { ...encodeNodeExecution(node), input_payload_ref, output_payload_ref }
}
/** A Flight Recorder event in its encoded form: exactly the stored event. */
export const encodeEvent = (event: StoredFlightEvent) => encodeFlightEvent(event)
/** Why a job's evidence may be missing (null: nothing retention removed) in its encoded form. */
export const encodeEvidenceMissing = (missing: EvidenceMissing | null) => encodeMissing(missing)

/** The states a job's `error_message` explains; in any other it is an earlier failure's, kept on the row. */
const errorStates: ReadonlySet<string> = new Set(["failed", "poisoned", "stalled"])

/**
 * What a jobs table says about a job: its error while that is why it is in its state (failed,
 * poisoned, stalled), else `status_reason`. A resumed, retried or released job keeps its earlier
 * error on the row (`jobs show` prints both), but its line says why it is running or queued now.
 */
export const reasonOrError = (job: Pick<AiJob, "state" | "status_reason" | "error_message">): string =>
  errorStates.has(job.state) ? job.error_message ?? job.status_reason : job.status_reason

/** The jobs table of `jobs list` and the demo: short ids, and what fits of the rest. */
export const jobsTable = (jobs: ReadonlyArray<AiJob>, width: number = outputWidth()): string =>
  table(
    [
      { header: "JOB" },
      { header: "KIND" },
      { header: "STATE" },
      { header: "PROFILE", optional: 2 },
      { header: "CREATED" },
      { header: "UPDATED", optional: 1 },
      { header: "REASON / ERROR", max: 200, below: { min: 24 } }
    ],
    jobs.map((job) => [
      shortId(job.job_id),
      job.job_kind,
      job.state,
      job.capability_profile_id,
      tableTime(job.created_at),
      tableTime(job.updated_at),
      reasonOrError(job)
    ]),
    width
  )

const transition = (event: StoredFlightEvent): string => {
  switch (event.type) {
    case "system":
      // The same state before and after (a pin, say) is no transition.
      return !("to_state" in event) || event.from_state === event.to_state ? "-" : `${event.from_state ?? "new"}→${event.to_state}`
    case "workflow_recovery":
      return `${event.from_state}→${event.to_state}`
    default:
      return "-"
  }
}

const optionalPart = (label: string, value: unknown): string =>
  value === undefined || value === null ? "" : `${label}${String(value)}`

/** What an event says beyond its envelope, in a few words. */
export const eventDetail = (event: StoredFlightEvent): string => {
  switch (event.type) {
    case "workflow_recovery":
      return `run ${shortId(event.workflow_run_id)}: last heartbeat ${time(event.last_heartbeat_ts)}, threshold ${event.threshold_secs}s`
    case "capability_action":
      // Only an event stored by an earlier release names the profile it was decided under (LegacyFlightEvent.ts).
      return `${event.capability_id}: ${event.decision_outcome}${"profile_id" in event && event.profile_id !== undefined ? ` (profile ${event.profile_id})` : ""}`
    case "system":
      if ("event_name" in event) {
        return `${event.event_name}: scanned ${event.items_scanned}, pruned ${event.items_pruned}, ` +
          `spared ${event.items_spared_pinned} pinned and ${event.items_spared_window} in the window` +
          `${optionalPart(", events purged ", event.events_purged)}${event.dry_run ? " (dry run)" : ""}`
      }
      return [event.workflow_run_id === undefined ? "" : `run ${shortId(event.workflow_run_id)}`, event.reason ?? ""]
        .filter((part) => part !== "").join("; ")
    case "llm_inference":
      return `${event.model_id}: ${event.token_usage.total_tokens} tokens${optionalPart(", ", event.latency_ms)}${event.latency_ms === undefined || event.latency_ms === null ? "" : " ms"}`
    case "terminal_command":
      return `${event.command}${optionalPart(" → exit ", event.exit_code)}`
    case "editor_edit":
      return `${event.editor_surface} ${event.path ?? event.document_uri ?? "document"}: ${event.ops.length} ${event.ops.length === 1 ? "edit" : "edits"}`
    case "diagnostic":
      return "diagnostic_id" in event
        ? `${event.severity ?? "diagnostic"} ${event.diagnostic_id}${optionalPart(" from ", event.source)}`
        : `${event.severity} ${event.code}: ${event.message}`
    case "debug_bundle_export":
      return "scope" in event
        ? `bundle ${event.bundle_id}: ${event.scope}, ${event.redaction_mode}${optionalPart(", events ", event.event_count)}`
        : `bundle ${event.bundle_id}${optionalPart(", bytes ", event.size_bytes)}`
    case "security_violation":
      return "violation" in event
        ? `${event.violation}${event.detail === undefined ? "" : `: ${event.detail}`}`
        : `${event.violation_type}: ${event.description} (${event.guard_name}, ${event.action_taken})`
  }
}

/** Flight Recorder events as a timeline: time, type, actor, job (short id), from→to, detail. */
export const timeline = (events: ReadonlyArray<StoredFlightEvent>, width: number = outputWidth()): string =>
  table(
    [
      { header: "TIME" },
      { header: "TYPE" },
      { header: "ACTOR" },
      { header: "JOB" },
      { header: "FROM→TO", below: {} },
      { header: "DETAIL", max: 200, below: { min: 30 } }
    ],
    events.map((event) => [
      tableTime(event.timestamp),
      event.type,
      event.actor,
      shortId(event.job_id),
      transition(event),
      eventDetail(event)
    ]),
    width
  )

/** Label/value lines, labels aligned; a long value wraps under itself. */
export const fields = (rows: ReadonlyArray<readonly [string, string]>, width: number = outputWidth(), indent = "  "): string => {
  const labels = Math.max(...rows.map(([label]) => label.length))
  return rows.map(([label, value]) =>
    wrap(value, width, { indent: `${indent}${label.padEnd(labels)}  `, hang: " ".repeat(indent.length + labels + 2) })
  ).join("\n")
}

/** `text` indented by `by`, each line. */
const indented = (text: string, by: string) => text.replace(/^/gm, by)

/** The size of a payload a summary left out, or null (inline, absent, or a node read in full). */
const leftOut = (node: NodeExecution | NodeSummary, field: "input_payload_bytes" | "output_payload_bytes"): number | null =>
  field in node ? (node as NodeSummary)[field] : null

/** The parts of `jobs show`: the job, each run with its nodes, and the job's events. */
export const jobDetail = (
  job: AiJob,
  runs: ReadonlyArray<{ readonly run: WorkflowRun; readonly nodes: ReadonlyArray<NodeExecution | NodeSummary>; readonly nodesCut?: boolean }>,
  events: ReadonlyArray<StoredFlightEvent>,
  options: { readonly runsCut?: boolean; readonly width?: number; readonly evidenceMissing?: EvidenceMissing | null } = {}
): string => {
  const width = options.width ?? outputWidth()
  const missing = options.evidenceMissing ?? null
  const metrics = Object.entries(job.metrics).filter(([, value]) => value !== 0).map(([name, value]) => `${name}=${value}`)
  const sections = [
    `Job ${job.job_id}`,
    fields([
      ["kind", job.job_kind],
      ["state", job.state],
      ["status reason", job.status_reason === "" ? "-" : job.status_reason],
      ["error", job.error_message ?? "-"],
      ["trace", job.trace_id],
      ["workflow run", job.workflow_run_id ?? "-"],
      ["protocol", job.protocol_id],
      ["profile", `${job.profile_id} (capabilities: ${job.capability_profile_id})`],
      ["modes", `access ${job.access_mode}, safety ${job.safety_mode}`],
      ["entities", job.entity_refs.map((ref) => `${ref.entity_kind}:${ref.entity_id}`).join(", ") || "-"],
      ["planned", job.planned_operations.map((op) => `${op.op_type} ${op.target.entity_kind}:${op.target.entity_id}`).join(", ") || "-"],
      ["metrics", metrics.join(" ") || "all zero"],
      ["inputs", brief(job.job_inputs, 100)],
      ["outputs", brief(job.job_outputs, 100)],
      ["pinned", job.is_pinned ? "yes" : "no"],
      ["created", time(job.created_at)],
      ["updated", time(job.updated_at)]
    ], width),
    "",
    // A cut list says so where it is read (R14): the count shown, and that more follow.
    `Workflow runs (${runs.length}${options.runsCut === true ? ", the oldest; more follow" : ""})`
  ]
  for (const { nodes, nodesCut, run } of runs) {
    sections.push(
      `  Run ${run.id}  ${run.status}`,
      wrap(`created ${time(run.created_at)}, last heartbeat ${time(run.last_heartbeat)}`, width, { indent: "    " })
    )
    if (run.error_message !== null) sections.push(wrap(`error: ${cut(run.error_message, 200)}`, width, { indent: "    ", hang: "      " }))
    if (nodes.length === 0) {
      sections.push("    (no node executions)")
      continue
    }
    sections.push(indented(
      table(
        [
          { header: "SEQ" },
          { header: "NODE" },
          { header: "TYPE" },
          { header: "STATUS" },
          { header: "STARTED" },
          { header: "FINISHED", optional: 1 },
          { header: "INPUT", max: 40, optional: 2 },
          { header: "OUTPUT / ERROR", max: 200, below: { min: 24 } }
        ],
        nodes.map((node) => [
          String(node.sequence),
          node.node_id,
          node.node_type,
          node.status,
          tableTime(node.started_at),
          node.finished_at === null ? "-" : tableTime(node.finished_at),
          payloadCell(node.input_payload, leftOut(node, "input_payload_bytes")),
          node.error_message ?? payloadCell(node.output_payload, leftOut(node, "output_payload_bytes"), 200)
        ]),
        width - 4
      ),
      "    "
    ))
    if (nodes.some((node) => leftOut(node, "input_payload_bytes") !== null || leftOut(node, "output_payload_bytes") !== null)) {
      sections.push(wrap(
        `(payloads over ${INLINE_PAYLOAD_BYTES} bytes are left out: ai-jobs jobs node ${run.id} <seq> shows a node in full)`,
        width,
        { indent: "    ", hang: "     " }
      ))
    }
    if (nodesCut === true) sections.push(`    (the first ${nodes.length} node executions; more follow)`)
  }
  sections.push(
    "",
    `Flight Recorder events (${events.length})`,
    // Said before the list, so an empty one never reads as "nothing happened" (FR-EVT-004).
    ...(missing === null ? [] : [wrap(`(evidence may be missing: ${missing.message})`, width, { indent: "  ", hang: "   " })]),
    events.length === 0 ? "  (none)" : indented(timeline(events, width - 2), "  ")
  )
  return sections.join("\n")
}
