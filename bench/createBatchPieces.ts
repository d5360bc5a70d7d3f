/**
 * SQLite `createJobs`, piece by piece (issue 16): CPU µs per job of each
 * step a batch takes, run alone in this process on a migrated file, next to
 * the whole call and the raw driver's batch (bench/baselines/rawInsert.ts).
 * The INSERT rows include building their values (the "building the rows
 * alone" row): subtract it for the database's own share.
 * `npx tsx bench/createBatchPieces.ts [reps] [batches] [batch]`. Not part of
 * `npm run bench`; the figures say where the JavaScript above the raw
 * driver goes.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { commonNewAiJob } from "../src/domain/newAiJobCheck.js"
import { newJob } from "../src/store/internal/newRows.js"
import { JobStore } from "../src/store/JobStore.js"
import { insertText } from "../src/store/sqlite/context.js"
import { type Bindable, JOB_COLUMNS, pushJobValues } from "../src/store/sqlite/rowCodec.js"
import { storeLayer } from "./app.js"
import { rawSqliteInsert } from "./baselines/rawInsert.js"
import { newJob as benchJob } from "./create.js"
import { openSqlite } from "./drivers.js"
import { runMain } from "./runMain.js"
import { cpuMicros, median } from "./trees.js"

const main = async () => {
  const [repsArg, batchesArg, batchArg] = process.argv.slice(2)
  const reps = Number(repsArg ?? 7)
  const batches = Number(batchesArg ?? 40)
  const batch = Number(batchArg ?? 100)
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-create-pieces-"))
  const loads = [os.loadavg().map((l) => l.toFixed(2)).join(" ")]
  const filename = path.join(tmp, "pieces.db")
  const runtime = ManagedRuntime.make(storeLayer({ dialect: "sqlite", filename, durability: "normal" }))
  try {
    const inputs: ReadonlyArray<unknown> = Array.from({ length: batch }, () => benchJob)
    const createJobs = (n: number) =>
      runtime.runPromise(Effect.gen(function*() {
        const store = yield* JobStore
        for (let i = 0; i < n; i++) yield* store.createJobs(inputs as never)
      }))
    await createJobs(2)
    const db = openSqlite(filename, "normal")
    const raw = rawSqliteInsert(db)
    const multi = db.prepare(`${insertText("ai_jobs", JOB_COLUMNS, batch)} ON CONFLICT (id) DO NOTHING RETURNING id`)
    const multiRun = db.prepare(insertText("ai_jobs", JOB_COLUMNS, batch))
    const one = db.prepare(insertText("ai_jobs", JOB_COLUMNS, 1))
    const now = DateTime.unsafeMake(Date.now())
    const checked = () => inputs.map((input) => commonNewAiJob(input)!)
    const rowValues = () => {
      const values: Array<Bindable> = []
      for (const job of checked().map((input) => newJob(input, now))) pushJobValues(values, job)
      return values
    }
    const pieces: ReadonlyArray<readonly [string, () => unknown]> = [
      ["port check (commonNewAiJob × batch)", checked],
      ["newJob × batch (ids, defaults)", () => inputs.map((input) => newJob(input as never, now))],
      ["pushJobValues × batch (JSON text, instants)", () => {
        const jobs = inputs.map((input) => newJob(input as never, now))
        const values: Array<Bindable> = []
        for (const job of jobs) pushJobValues(values, job)
        return values
      }],
      ["multi-row INSERT … RETURNING id (better-sqlite3 .all, in BEGIN/COMMIT, rows prebuilt)", () => {
        const values = rowValues()
        db.exec("BEGIN IMMEDIATE")
        multi.all(values)
        db.exec("COMMIT")
      }],
      ["multi-row INSERT without ON CONFLICT/RETURNING (.run, in BEGIN/COMMIT: a statement journal)", () => {
        const values = rowValues()
        db.exec("BEGIN IMMEDIATE")
        multiRun.run(values)
        db.exec("COMMIT")
      }],
      ["the same INSERT on its own (autocommit: no statement journal)", () => multiRun.run(rowValues())],
      ["one 25-column INSERT per job (.run × batch, in BEGIN/COMMIT, rows prebuilt)", () => {
        const values = rowValues()
        db.exec("BEGIN IMMEDIATE")
        for (let i = 0; i < batch; i++) one.run(values.slice(i * 25, i * 25 + 25))
        db.exec("COMMIT")
      }],
      ["building the rows alone (check + newJob + values)", rowValues],
      ["raw driver batch (rawInsert.ts)", () => raw.insertBatch(batch)]
    ]
    const samples = new Map<string, Array<number>>([["JobStore.createJobs (whole call)", []], ...pieces.map(([name]) => [name, []] as [string, Array<number>])])
    for (let rep = 0; rep < reps; rep++) {
      let start = cpuMicros()
      await createJobs(batches)
      samples.get("JobStore.createJobs (whole call)")!.push((cpuMicros() - start) / (batches * batch))
      for (const [name, piece] of pieces) {
        start = cpuMicros()
        for (let b = 0; b < batches; b++) piece()
        samples.get(name)!.push((cpuMicros() - start) / (batches * batch))
      }
    }
    loads.push(os.loadavg().map((l) => l.toFixed(2)).join(" "))
    db.close()
    console.log(`SQLite createJobs of ${batch}, "normal": CPU µs per job, median of ${reps} blocks of ${batches} batches`)
    for (const [name, values] of samples) console.log(`  ${median(values).toFixed(2).padStart(7)}  ${name}`)
  } finally {
    await runtime.dispose()
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  console.log(`load average (1/5/15 min) at start and end: ${loads.join(" | ")}`)
}

runMain(main)
