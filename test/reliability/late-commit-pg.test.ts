/**
 * Why the PostgreSQL crash campaign waits after each kill before it audits
 * (crash-campaign.ts, `settle`): a COMMIT the server received before its
 * client was SIGKILLed still commits — after the kill. A snapshot taken in
 * between misses that transaction's rows (found by the five-run proof: the
 * next restart's recovery stalled a run the campaign had never seen
 * running). The interleaving is forced: the COMMIT runs a deferred trigger
 * that sleeps 1.5 s, and the client kills itself 100 ms after sending it.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { createRequire } from "node:module"
import { awaitOtherSessionsGone, connectPg, dropDatabase, freshDatabaseUrl } from "../support/pg-database.js"

const pgModule = createRequire(import.meta.url).resolve("pg")

describe("reliability: a SIGKILLed PostgreSQL client's last COMMIT", () => {
  it("R9 a COMMIT sent just before SIGKILL commits after the kill, and awaitOtherSessionsGone waits for it", async () => {
    const url = await freshDatabaseUrl("late commit")
    let client = await connectPg(url)
    try {
      await client.query("CREATE TABLE t (id int PRIMARY KEY)")
      await client.query("CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(1.5); RETURN NULL; END $$")
      await client.query("CREATE CONSTRAINT TRIGGER slow AFTER INSERT ON t DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow()")
      const child = spawn(process.execPath, ["-e", `
        const pg = require(${JSON.stringify(pgModule)})
        const c = new pg.Client({ connectionString: ${JSON.stringify(url)} })
        c.connect().then(async () => {
          await c.query("BEGIN")
          await c.query("INSERT INTO t VALUES (1)")
          c.query("COMMIT").catch(() => {})
          setTimeout(() => process.kill(process.pid, "SIGKILL"), 100)
        })
      `], { stdio: "inherit" })
      const signal = await new Promise((resolve) => child.on("exit", (_, killedBy) => resolve(killedBy)))
      assert.strictEqual(signal, "SIGKILL")
      const rows = async () => Number((await client.query<{ n: string }>("SELECT count(*) AS n FROM t")).rows[0]!.n)
      assert.strictEqual(await rows(), 0, "right after the kill the COMMIT is still running")
      // Only the dead client's session may remain: this one leaves too.
      await client.end()
      await awaitOtherSessionsGone(url)
      client = await connectPg(url)
      assert.strictEqual(await rows(), 1, "once the dead client's session is gone, its COMMIT has committed")
    } finally {
      await client.end().catch(() => {})
      await dropDatabase(url)
    }
  }, 60_000)
})
