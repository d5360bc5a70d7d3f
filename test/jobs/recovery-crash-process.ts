/**
 * A process that is killed (SIGKILL) or frozen (SIGSTOP) at a chosen point,
 * for test/jobs/recovery-crash.test.ts:
 *
 *   HSK_CHILD_ARGV='["recover-hold", "<database>"]' node recovery-crash-process.ts
 *   (or the same arguments on the command line)
 *
 *   recover-hold <database>
 *     runs startup recovery (threshold 30 s, real clock) and stops inside its
 *     first batch's transaction, its rows locked and moved but not committed:
 *     says `holding`, then waits to be killed.
 *   node-hold <database> <job id>
 *     runs the (started) job with `Jobs.run`: node `first` ends, node `open`
 *     starts (committed) and never ends, then node `hang`'s start is written
 *     inside a transaction that stays open: says `in-transaction` with the
 *     run id, then waits to be killed.
 *   zombie <database> <job id>
 *     runs the job with `Jobs.run` (heartbeat every hour: silent once taken):
 *     node `first` ends, says `running` with the run id, then waits for a
 *     `go` line (the test freezes and revives the process meanwhile); then
 *     beats its run once itself (`beat`, with the outcome) and lets its
 *     program go on to a node `late` and an end (`ended`, with the outcome).
 *
 * Every message is a `@@{json}` line written synchronously (protocol.ts), so
 * a line printed before a SIGKILL reaches the parent.
 */
import * as fs from "node:fs"
import * as readline from "node:readline"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import type { JobId } from "../../src/domain/Ids.js"
import { Jobs } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import * as DatabaseUrl from "../../src/store/DatabaseUrl.js"
import { JobStore } from "../../src/store/JobStore.js"
import { MARK } from "../reliability/protocol.js"
import { services } from "./services.js"
import { holdingScan } from "./shared-database.js"

// Arguments as a JSON array in HSK_CHILD_ARGV (how test/reliability/children.ts passes them), else on the command line.
const argv: ReadonlyArray<string> = process.env["HSK_CHILD_ARGV"] !== undefined ? JSON.parse(process.env["HSK_CHILD_ARGV"]) : process.argv.slice(2)
const [mode, url, jobId] = argv
if (url === undefined || (mode !== "recover-hold" && mode !== "node-hold" && mode !== "zombie") || (mode !== "recover-hold" && jobId === undefined)) {
  console.error("usage: recovery-crash-process.ts <recover-hold|node-hold|zombie> <database> [job id]")
  process.exit(2)
}

const emit = (message: Record<string, unknown>): void => {
  fs.writeSync(1, `${MARK}${JSON.stringify(message)}\n`)
}

/** Says `t`, then never returns: the process waits to be killed where it stands. */
const hang = (t: string, fields: Record<string, unknown> = {}) => Effect.zipRight(Effect.sync(() => emit({ t, ...fields })), Effect.never)

/** What an Exit was: "ok", or its failure's tag and status. */
const outcome = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isSuccess(exit) ? { tag: "ok" } : Exit.match(exit, {
    onSuccess: () => ({ tag: "ok" }),
    onFailure: (cause) => {
      const error = cause._tag === "Fail" ? cause.error as { readonly _tag?: string; readonly status?: string } : undefined
      return { tag: error?._tag ?? "defect", status: error?.status ?? null }
    }
  })

const lines = readline.createInterface({ input: process.stdin })
const go = Deferred.unsafeMake<void>(FiberId.none)
lines.on("line", (line) => {
  if (line.trim() === "go") Deferred.unsafeDone(go, Exit.void)
})

const program = Effect.gen(function*() {
  const real = Context.get(yield* Layer.build(DatabaseUrl.layerFromUrl(url, { migrate: false })), JobStore)
  if (mode === "recover-hold") {
    // The scan's records are built inside its transaction, its rows locked and moved: stop there.
    const store = holdingScan(real, hang("holding"))
    yield* Recovery.recoverStalledRuns({ threshold: Duration.seconds(30) }).pipe(Effect.provide(Layer.succeed(JobStore, store)))
    return emit({ t: "unexpected", detail: "the scan ended" })
  }
  const store: JobStore["Type"] = mode === "node-hold"
    ? {
      ...real,
      // Node `hang`'s start is written, then its transaction stays open (its run locked).
      startNode: (node) => node.node_id === "hang" ? real.transaction(Effect.zipRight(real.startNode(node), hang("in-transaction", { run: node.workflow_run_id }))) : real.startNode(node)
    }
    : real
  const jobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, store))), Jobs)
  const exit = yield* Effect.exit(jobs.run(jobId as JobId, (ctx) =>
    Effect.gen(function*() {
      yield* ctx.node({ node_id: "first", node_type: "step" }, Effect.succeed({ step: 1 }))
      if (mode === "node-hold") {
        // A node left running (its start committed, its work never ends), then `hang`'s start held open.
        const opened = yield* Deferred.make<void>()
        yield* Effect.fork(ctx.node({ node_id: "open", node_type: "tool" }, Effect.zipRight(Deferred.succeed(opened, undefined), Effect.never)))
        yield* Deferred.await(opened)
        return yield* ctx.node({ node_id: "hang", node_type: "llm" }, Effect.succeed(null))
      }
      emit({ t: "running", run: ctx.run.id })
      yield* Deferred.await(go)
      // The revived zombie's late heartbeat, written for its run as its heartbeat fiber would.
      emit({ t: "beat", ...outcome(yield* Effect.exit(real.heartbeat(ctx.run.id))) })
      yield* ctx.node({ node_id: "late", node_type: "step" }, Effect.succeed({ step: 2 }))
      return { done: true }
    }), { heartbeatInterval: "1 hour" }))
  emit({ t: "ended", ...outcome(exit) })
}).pipe(Effect.scoped)

Effect.runPromise(program).then(
  () => process.exit(0),
  (error) => {
    emit({ t: "fatal", detail: String(error) })
    process.exit(1)
  }
)
