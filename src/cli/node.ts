/**
 * `ai-jobs jobs node <run-id> <sequence>`: one node execution in full,
 * payloads and all — what `jobs show` refers to for a payload it left out
 * (R14), as `GET /runs/:workflow_run_id/nodes/:sequence` does for the API.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { WorkflowRunId } from "../domain/Ids.js"
import type { NodeExecution } from "../domain/WorkflowRun.js"
import { nodeInFull } from "../internal/firstOfRuns.js"
import { JobStore } from "../store/JobStore.js"
import { type Database, databaseOption, recorderLayer, resolve } from "./database.js"
import { encodeNode, fields, json, time } from "./format.js"
import { passwordNote } from "./listing.js"
import * as Parse from "./parse.js"

const runIdArgument = Args.text({ name: "run-id" }).pipe(Args.withDescription("The node's workflow run id, in full (as jobs show prints it)"))
const sequenceArgument = Args.text({ name: "sequence" }).pipe(Args.withDescription("The node's sequence number in its run (the SEQ column of jobs show)"))
const jsonOption = Options.boolean("json").pipe(Options.withDescription("Print the encoded node execution as JSON"))

/** How `jobs show --json` refers to a node whose payload it left out: this command, on the same database. */
export const nodeOfRunCommand = (database: Database, node: { readonly workflow_run_id: string; readonly sequence: number }) => {
  const note = passwordNote(database)
  return {
    command: ["ai-jobs", "jobs", "node", node.workflow_run_id, String(node.sequence), ...database.again.words].join(" "),
    ...(note === undefined ? {} : { command_note: note })
  }
}

/** A node for a person: its fields, then each payload as indented JSON. */
const nodeText = (node: NodeExecution): string =>
  [
    `Node ${node.sequence} of run ${node.workflow_run_id}`,
    fields([
      ["id", node.id],
      ["node", node.node_id],
      ["type", node.node_type],
      ["status", node.status],
      ["started", time(node.started_at)],
      ["finished", node.finished_at === null ? "-" : time(node.finished_at)],
      ["error", node.error_message ?? "-"]
    ]),
    "",
    "Input",
    node.input_payload === null ? "  -" : json(node.input_payload).replace(/^/gm, "  "),
    "",
    "Output",
    node.output_payload === null ? "  -" : json(node.output_payload).replace(/^/gm, "  ")
  ].join("\n")

export const nodeCommand = Command.make(
  "node",
  { database: databaseOption, runId: runIdArgument, sequence: sequenceArgument, json: jsonOption },
  (options) =>
    Effect.gen(function*() {
      const runId = yield* Parse.uuid("run id", WorkflowRunId)(options.runId)
      const sequence = yield* Parse.integer("sequence", 0, Number.MAX_SAFE_INTEGER)(options.sequence)
      const database = yield* resolve(options.database)
      const node = yield* Effect.flatMap(JobStore, (store) => nodeInFull(store, runId, sequence)).pipe(Effect.provide(recorderLayer(database, { migrate: false, create: false, readonly: true })))
      yield* Console.log(options.json ? json(encodeNode(node)) : nodeText(node))
    })
).pipe(Command.withDescription(
  "Show one node execution of a workflow run in full, its input and output payloads whole (jobs show leaves out payloads over 4096 bytes). A run or node that is not there exits 1."
))
