/**
 * `ai-jobs serve` stopped (SIGTERM) with requests in flight, on SQLite and
 * PostgreSQL: they get the grace period (`--shutdown-grace`,
 * `AI_JOBS_SHUTDOWN_GRACE`) to finish, then are cut, so the process exits
 * before an orchestrator's SIGKILL. Found by a probe: a request stuck on a
 * database lock held the stop as long as the lock.
 *
 * Each request is held on purpose — a PostgreSQL table lock another session
 * holds, the SQLite file's write lock another connection holds, or a body
 * the test sends in two parts — and the signal is sent once the server has it
 * (the session waits on the lock, or the server announced the request:
 * announceRequests.ts).
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as http from "node:http"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { JobStore } from "../../src/store/JobStore.js"
import { runCli, tempDir } from "../cli/cli.js"
import { openSqlite } from "../reliability/snapshot.js"
import { awaitOtherSessionsGone, connectPg, dropDatabase, freshDatabaseUrl } from "../support/pg-database.js"
import { holdTable } from "../support/tableHold.js"
import { ANNOUNCE_REQUESTS, healthAfterRecovery, jobRequest, onStore, type Served, startServe, submitJob } from "./serveProcess.js"

const TOKEN = "serve-stop-token-0123456789"

let sqlite = ""
let pg = ""

beforeAll(async () => {
  sqlite = path.join(tempDir("serve-stop"), "jobs.db")
  pg = await freshDatabaseUrl("serve_stop")
  await onStore(sqlite, Effect.void)
  await onStore(pg, Effect.void)
}, 120_000)

afterAll(() => dropDatabase(pg))

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Waits until the server has printed `pattern` on stderr (a setup step: never is a failure naming it). */
const printed = async (served: Served, pattern: RegExp) => {
  for (const deadline = Date.now() + 60_000; !pattern.test(served.stderr());) {
    if (Date.now() > deadline) throw new Error(`the server never printed ${pattern}:\n${served.output()}`)
    await sleep(10)
  }
}

/** SIGTERM, and the exit code — or "still serving" if it has not exited well after the 1 s grace (the hold lasts). */
const stoppedWhileHeld = (served: Served) =>
  Promise.race([served.stop("SIGTERM"), sleep(30_000).then(() => "still serving" as const)])

/** The protocol ids of the jobs stored. */
const storedProtocols = (database: string) =>
  onStore(database, Effect.map(Effect.flatMap(JobStore, (store) => store.listJobs()), (page) => page.items.map((job) => job.protocol_id)))

/** A fresh server on `database` takes a submission: the cut left the database usable. */
const servesAgain = async (database: string, protocol: string) => {
  const served = await startServe(["--database", database], { AI_JOBS_TOKEN: TOKEN })
  try {
    await healthAfterRecovery(served.url)
    assert.strictEqual((await submitJob(served.url, TOKEN, protocol)).status, 201)
  } finally {
    assert.strictEqual(await served.stop("SIGTERM"), 143)
  }
}

/** How many Flight Recorder events the PostgreSQL database holds, read on the server directly. */
const pgEventCount = async (database: string) => {
  const client = await connectPg(database)
  try {
    return Number((await client.query<{ n: string }>("SELECT count(*) AS n FROM flight_recorder_events")).rows[0]!.n)
  } finally {
    await client.end()
  }
}

/** What the client of a cut request saw: its status (503 when the cut request could still answer), or "cut" when its connection closed with no answer. */
const answerOf = (response: Promise<Response>) => response.then((answer) => answer.status, () => "cut" as const)

/** `POST /jobs` with `body`'s first bytes sent at once and the rest when `rest` is called: its status once answered. */
const submitInTwoParts = (url: string, body: string) => {
  const request = http.request(`${url}jobs`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", "content-length": Buffer.byteLength(body) }
  })
  const status = new Promise<number | undefined>((resolve, reject) => {
    request.on("response", (response) => {
      response.resume()
      resolve(response.statusCode)
    })
    request.on("error", reject)
  })
  request.write(body.slice(0, 10))
  return { status, rest: () => request.end(body.slice(10)) }
}

const CUT = /WARN.*stopped: cut 1 of 1 request\(s\) still in flight after the 1s grace/

describe("ai-jobs serve stopped with requests in flight", { timeout: 180_000 }, () => {
  it("serve stop: SIGTERM while a POST /jobs waits on a PostgreSQL table lock another session holds: after the 1s grace the request is cut and the process exits 143 with the lock still held, saying so; its INSERT was cancelled on the server, so once the lock goes neither the job nor its event exists (f119); a restarted server takes a submission", async () => {
    const served = await startServe(["--database", pg], { AI_JOBS_TOKEN: TOKEN, AI_JOBS_SHUTDOWN_GRACE: "1s" })
    const scope = await Effect.runPromise(Scope.make())
    let code: number | null | "still serving" = "still serving"
    let answer: number | "cut" | undefined
    let eventsBefore = -1
    try {
      await healthAfterRecovery(served.url)
      eventsBefore = await pgEventCount(pg)
      const hold = await Effect.runPromise(Scope.extend(holdTable(pg, "ai_jobs"), scope))
      const submitted = answerOf(submitJob(served.url, TOKEN, "hsk.stop.cut"))
      await Effect.runPromise(hold.blocked)
      code = await stoppedWhileHeld(served)
      answer = await submitted
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      await served.stop("SIGTERM")
    }
    assert.strictEqual(code, 143, served.output())
    assert.include([503, "cut"], answer, "answered 503 or its connection closed")
    assert.match(served.stderr(), /INFO.*stopping: no new requests; waiting up to 1s for 1 request\(s\) in flight/)
    assert.match(served.stderr(), CUT)
    // The lock is gone (the scope closed): a statement still running on the server would now have committed.
    await awaitOtherSessionsGone(pg)
    assert.notInclude(await storedProtocols(pg), "hsk.stop.cut", "the cut submit was not committed after the process exited")
    assert.strictEqual(await pgEventCount(pg), eventsBefore, "nor its event")
    await servesAgain(pg, "hsk.stop.after-cut")
    assert.include(await storedProtocols(pg), "hsk.stop.after-cut")
  })

  it("serve stop: SIGTERM while a POST /jobs waits for the SQLite file's write lock another connection holds: after --shutdown-grace 1s the request is cut and the process exits 143 with the lock still held, saying so; nothing of it is stored, and a restarted server takes a submission", async () => {
    const served = await startServe(["--database", sqlite, "--shutdown-grace", "1s"], { AI_JOBS_TOKEN: TOKEN }, ANNOUNCE_REQUESTS)
    const holder = openSqlite(sqlite, { timeout: 0 })
    let code: number | null | "still serving" = "still serving"
    let answer: number | "cut" | undefined
    try {
      await healthAfterRecovery(served.url)
      holder.exec("BEGIN IMMEDIATE")
      const submitted = answerOf(submitJob(served.url, TOKEN, "hsk.stop.cut"))
      await printed(served, /test: request POST \/jobs\n/)
      code = await stoppedWhileHeld(served)
      answer = await submitted
    } finally {
      holder.exec("ROLLBACK")
      holder.close()
      await served.stop("SIGTERM")
    }
    assert.strictEqual(code, 143, served.output())
    assert.include([503, "cut"], answer, "answered 503 or its connection closed")
    assert.match(served.stderr(), CUT)
    assert.notInclude(await storedProtocols(sqlite), "hsk.stop.cut")
    await servesAgain(sqlite, "hsk.stop.after-cut")
    assert.include(await storedProtocols(sqlite), "hsk.stop.after-cut")
  })

  for (const store of ["SQLite", "PostgreSQL"] as const) {
    it(`serve stop: a request that ends within the grace is answered as usual (${store}): SIGTERM while a POST /jobs waits for the rest of its body; the body completed after the stop began, it answers 201, the job is stored and the process exits 143 with nothing cut`, async () => {
      const database = store === "SQLite" ? sqlite : pg
      const protocol = `hsk.stop.within-grace.${store}`
      const served = await startServe(["--database", database], { AI_JOBS_TOKEN: TOKEN, AI_JOBS_SHUTDOWN_GRACE: "60s" }, ANNOUNCE_REQUESTS)
      let exited: Promise<number | null> | undefined
      try {
        await healthAfterRecovery(served.url)
        const submitted = submitInTwoParts(served.url, jobRequest(protocol))
        await printed(served, /test: request POST \/jobs\n/)
        exited = served.stop("SIGTERM")
        await printed(served, /stopping: no new requests; waiting up to 1m for 1 request\(s\) in flight/)
        submitted.rest()
        assert.strictEqual(await submitted.status, 201)
        assert.strictEqual(await exited, 143, served.output())
      } finally {
        await (exited ?? served.stop("SIGTERM"))
      }
      assert.match(served.stderr(), /INFO.*stopped: the 1 request\(s\) in flight finished/)
      assert.notMatch(served.stderr(), /cut/)
      assert.include(await storedProtocols(database), protocol)
    })
  }

  // Found by a regression probe: main.ts ended the process on a repeated signal (it only spared a
  // CLI change), so serve exited at once — no WARN line, the store not closed, the request dropped.
  for (
    const [store, first, second, code] of [
      ["SQLite", "SIGTERM", "SIGTERM", 143],
      ["PostgreSQL", "SIGTERM", "SIGTERM", 143],
      ["SQLite", "SIGINT", "SIGTERM", 130],
      ["PostgreSQL", "SIGINT", "SIGTERM", 130]
    ] as const
  ) {
    it(`serve stop: a repeated signal ends the grace at once (${store}, ${first} then ${second}): a POST /jobs still waiting for the rest of its body within a 1m grace is cut — answered 503 or its connection closed, nothing stored — with the WARN line saying so, and the process exits ${code}; a restarted server takes a submission`, async () => {
      const database = store === "SQLite" ? sqlite : pg
      const protocol = `hsk.stop.second-signal.${store}.${first}`
      const served = await startServe(["--database", database, "--shutdown-grace", "60s"], { AI_JOBS_TOKEN: TOKEN }, ANNOUNCE_REQUESTS)
      let exited: Promise<number | null> | undefined
      let answer: number | "cut" | undefined
      let outcome: number | null | "still serving" = "still serving"
      try {
        await healthAfterRecovery(served.url)
        const submitted = submitInTwoParts(served.url, jobRequest(protocol))
        const answered = submitted.status.then((status) => status ?? "cut", () => "cut" as const)
        await printed(served, /test: request POST \/jobs\n/)
        exited = served.stop(first)
        await printed(served, /stopping: no new requests; waiting up to 1m for 1 request\(s\) in flight/)
        void served.stop(second)
        outcome = await Promise.race([exited, sleep(30_000).then(() => "still serving" as const)])
        answer = await answered
      } finally {
        await (exited ?? served.stop("SIGTERM"))
      }
      assert.strictEqual(outcome, code, served.output())
      assert.include([503, "cut"], answer, "answered 503 or its connection closed")
      assert.match(served.stderr(), /WARN.*stopped: cut 1 of 1 request\(s\) still in flight when a repeated signal ended the 1m grace/)
      assert.notInclude(await storedProtocols(database), protocol)
      await servesAgain(database, `hsk.stop.after-second-signal.${store}.${first}`)
    })
  }

  it("serve stop: a zero grace is printed with its unit (--shutdown-grace 0ms): the request in flight is cut at once, the lines say 'up to 0s' and 'after the 0s grace'", async () => {
    const served = await startServe(["--database", sqlite, "--shutdown-grace", "0ms"], { AI_JOBS_TOKEN: TOKEN }, ANNOUNCE_REQUESTS)
    let exited: Promise<number | null> | undefined
    try {
      await healthAfterRecovery(served.url)
      const submitted = submitInTwoParts(served.url, jobRequest("hsk.stop.zero-grace"))
      const answered = submitted.status.then((status) => status ?? "cut", () => "cut" as const)
      await printed(served, /test: request POST \/jobs\n/)
      exited = served.stop("SIGTERM")
      assert.strictEqual(await exited, 143, served.output())
      assert.include([503, "cut"], await answered)
    } finally {
      await (exited ?? served.stop("SIGTERM"))
    }
    assert.match(served.stderr(), /INFO.*stopping: no new requests; waiting up to 0s for 1 request\(s\) in flight\n/)
    assert.match(served.stderr(), /WARN.*stopped: cut 1 of 1 request\(s\) still in flight after the 0s grace;/)
  })

  it("serve stop: a grace that is not a duration is refused before anything listens (exit 2, one line naming where it came from)", async () => {
    const [option, variable] = await Promise.all([
      runCli(["serve", "--port", "0", "--shutdown-grace", "10", "--database", sqlite], { env: { AI_JOBS_TOKEN: TOKEN } }),
      runCli(["serve", "--port", "0", "--database", sqlite], { env: { AI_JOBS_TOKEN: TOKEN, AI_JOBS_SHUTDOWN_GRACE: "soon" } })
    ])
    assert.deepStrictEqual([option.code, option.stdout], [2, ""], option.stderr)
    assert.match(option.stderr, /^error: bad --shutdown-grace "10"; expected a duration/)
    assert.deepStrictEqual([variable.code, variable.stdout], [2, ""], variable.stderr)
    assert.match(variable.stderr, /^error: bad AI_JOBS_SHUTDOWN_GRACE "soon"; expected a duration/)
  })
})
