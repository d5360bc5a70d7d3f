import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { connectPg, dropDatabase, freshDatabaseUrl, type PgClient } from "./pg-database.js"

describe("PostgreSQL test harness", () => {
  let urlA = ""
  let urlB = ""
  const clients: Array<PgClient> = []

  const connect = async (url: string): Promise<PgClient> => {
    const client = await connectPg(url)
    clients.push(client)
    return client
  }

  beforeAll(async () => {
    ;[urlA, urlB] = await Promise.all([freshDatabaseUrl("harness a"), freshDatabaseUrl("harness b")])
  })

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => {})))
    await Promise.all([dropDatabase(urlA), dropDatabase(urlB)])
  })

  it("connects to a fresh PostgreSQL database and round-trips a row", async () => {
    const db = await connect(urlA)
    const version = await db.query<{ version: string }>("select version()")
    expect(version.rows[0]?.version).toContain("PostgreSQL")

    const current = await db.query<{ name: string }>("select current_database() as name")
    expect(current.rows[0]?.name).toMatch(/^hsk_harness_a_[0-9a-f]{12}$/)

    await db.query("create table widget (id int primary key, label text not null)")
    await db.query("insert into widget (id, label) values ($1, $2)", [1, "sprocket"])
    const rows = await db.query<{ id: number; label: string }>("select id, label from widget")
    expect(rows.rows).toEqual([{ id: 1, label: "sprocket" }])
  })

  it("gives each caller its own database", async () => {
    expect(urlB).not.toBe(urlA)
    const a = await connect(urlA)
    const b = await connect(urlB)
    await a.query("create table only_in_a (x int)")
    const lookup = "select to_regclass('public.only_in_a')::text as t"
    expect((await a.query<{ t: string | null }>(lookup)).rows[0]?.t).toBe("only_in_a")
    expect((await b.query<{ t: string | null }>(lookup)).rows[0]?.t).toBeNull()
  })

  it("drops a database without throwing, even twice", async () => {
    const url = await freshDatabaseUrl("to-drop")
    await dropDatabase(url)
    await dropDatabase(url)
    await expect(connectPg(url)).rejects.toThrow(/does not exist/)
  })
})
