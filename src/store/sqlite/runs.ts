/**
 * Workflow runs and node executions on SQLite (R8, HSK-WF-001): create,
 * heartbeat and finish runs; start, finish and list nodes.
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { uuidv7 } from "../../domain/uuidv7.js"
import { NodeExecutionId, type WorkflowRunId } from "../../domain/Ids.js"
import type { NodeExecution } from "../../domain/WorkflowRun.js"
import { decodeRows } from "../internal/decodeRow.js"
import type { JobStore } from "../JobStore.js"
import { NotFound, RunNotActive } from "../StoreErrors.js"
import { decode, encode } from "./rows.js"
import { alreadyExistsAsStorageError, insertEvents, type SqliteContext, sqliteCode, storageErrors } from "./support.js"
import { newRun } from "../internal/newRows.js"

type Service = JobStore["Type"]

/** The run and node methods of the SQLite store. */
export const makeRunMethods = ({ sql, write }: SqliteContext) => {
  const findRun = (runId: string) =>
    Effect.flatMap(
      sql`SELECT * FROM workflow_runs WHERE id = ${runId}`,
      ([row]) => (row === undefined ? Effect.succeedNone : Effect.asSome(decode.run(row)))
    )

  /**
   * Updates a run only while it is `running` (the guard is in the UPDATE, so a
   * run finished or stalled concurrently is never revived); otherwise tells
   * NotFound from RunNotActive.
   */
  const updateRunningRun = (runId: WorkflowRunId, set: Record<string, unknown>) =>
    Effect.gen(function*() {
      const [row] = yield* sql`
        UPDATE workflow_runs SET ${sql.update(set)}
        WHERE id = ${runId} AND status = 'running'
        RETURNING *`
      if (row !== undefined) return yield* decode.run(row)
      const current = yield* findRun(runId)
      if (Option.isNone(current)) return yield* new NotFound({ entity: "workflow_run", id: runId })
      return yield* new RunNotActive({ workflow_run_id: runId, status: current.value.status })
    })

  const createRun: Service["createRun"] = Effect.fn("JobStore.createRun")(
    function*(jobId, options) {
      return yield* write(Effect.gen(function*() {
        const now = yield* DateTime.now
        const run = newRun(jobId, now)
        const row = yield* encode.run(run)
        // job_id is the row's one foreign key, so a violation means the job does not exist.
        yield* Effect.catchIf(
          sql`INSERT INTO workflow_runs ${sql.insert(row)}`,
          (error) => sqliteCode(error) === "SQLITE_CONSTRAINT_FOREIGNKEY",
          () => Effect.fail(new NotFound({ entity: "job", id: jobId }))
        )
        yield* insertEvents(sql, options?.events ?? [])
        return run
      }))
    },
    alreadyExistsAsStorageError("JobStore.createRun"),
    storageErrors("JobStore.createRun")
  )

  const getRun: Service["getRun"] = Effect.fn("JobStore.getRun")(
    function*(runId) {
      const run = yield* findRun(runId)
      if (Option.isNone(run)) return yield* new NotFound({ entity: "workflow_run", id: runId })
      return run.value
    },
    storageErrors("JobStore.getRun")
  )

  const listRuns: Service["listRuns"] = Effect.fn("JobStore.listRuns")(
    function*(jobId) {
      const rows = yield* sql`SELECT * FROM workflow_runs WHERE job_id = ${jobId} ORDER BY created_at, id`
      return yield* decodeRows(decode.run)(rows)
    },
    storageErrors("JobStore.listRuns")
  )

  const finishRun: Service["finishRun"] = Effect.fn("JobStore.finishRun")(
    function*(runId, status, options) {
      return yield* write(Effect.gen(function*() {
        const now = yield* encode.timestamp(yield* DateTime.now)
        const run = yield* updateRunningRun(runId, {
          status,
          updated_at: now,
          ...(options?.error_message !== undefined ? { error_message: options.error_message } : {})
        })
        yield* insertEvents(sql, options?.events ?? [])
        return run
      }))
    },
    alreadyExistsAsStorageError("JobStore.finishRun"),
    storageErrors("JobStore.finishRun")
  )

  const heartbeat: Service["heartbeat"] = Effect.fn("JobStore.heartbeat")(
    function*(runId) {
      // A write like any other: it waits for the write lock, so it serialises with recovery.
      return yield* write(Effect.gen(function*() {
        const now = yield* encode.timestamp(yield* DateTime.now)
        return yield* updateRunningRun(runId, { last_heartbeat: now, updated_at: now })
      }))
    },
    storageErrors("JobStore.heartbeat")
  )

  const startNode: Service["startNode"] = Effect.fn("JobStore.startNode")(
    function*(input) {
      return yield* write(Effect.gen(function*() {
        const started: Omit<NodeExecution, "sequence"> = {
          id: NodeExecutionId.make(uuidv7()),
          workflow_run_id: input.workflow_run_id,
          node_id: input.node_id,
          node_type: input.node_type,
          status: "running",
          input_payload: input.input_payload ?? null,
          output_payload: null,
          error_message: null,
          started_at: yield* DateTime.now,
          finished_at: null
        }
        const columns = yield* encode.startedNode(started)
        // The next sequence number is computed in the same statement, under the write lock.
        const [row] = yield* sql<{ readonly sequence: number }>`
          INSERT INTO workflow_node_executions
            (id, workflow_run_id, node_id, node_type, status, sequence, input_payload, started_at)
          SELECT ${started.id}, ${started.workflow_run_id}, ${columns.node_id}, ${columns.node_type}, 'running',
            coalesce((SELECT max(sequence) + 1 FROM workflow_node_executions WHERE workflow_run_id = ${started.workflow_run_id}), 0),
            ${columns.input_payload}, ${columns.started_at}
          WHERE EXISTS (SELECT 1 FROM workflow_runs WHERE id = ${started.workflow_run_id})
          RETURNING sequence`
        if (row === undefined) return yield* new NotFound({ entity: "workflow_run", id: input.workflow_run_id })
        // Everything but the sequence is what was written, so no read-back is needed.
        return { ...started, sequence: row.sequence } satisfies NodeExecution
      }))
    },
    storageErrors("JobStore.startNode")
  )

  const finishNode: Service["finishNode"] = Effect.fn("JobStore.finishNode")(
    function*(nodeId, outcome) {
      return yield* write(Effect.gen(function*() {
        const set = yield* encode.nodeColumns({
          status: outcome.status,
          finished_at: yield* DateTime.now,
          ...(outcome.output_payload !== undefined ? { output_payload: outcome.output_payload } : {}),
          ...(outcome.error_message !== undefined ? { error_message: outcome.error_message } : {})
        })
        const [row] = yield* sql`UPDATE workflow_node_executions SET ${sql.update(set)} WHERE id = ${nodeId} RETURNING *`
        if (row === undefined) return yield* new NotFound({ entity: "node_execution", id: nodeId })
        return yield* decode.node(row)
      }))
    },
    storageErrors("JobStore.finishNode")
  )

  const listNodes: Service["listNodes"] = Effect.fn("JobStore.listNodes")(
    function*(runId) {
      const rows = yield* sql`SELECT * FROM workflow_node_executions WHERE workflow_run_id = ${runId} ORDER BY sequence`
      return yield* decodeRows(decode.node)(rows)
    },
    storageErrors("JobStore.listNodes")
  )

  return { createRun, getRun, listRuns, finishRun, heartbeat, startNode, finishNode, listNodes }
}
