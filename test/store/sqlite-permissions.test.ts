/**
 * The SQLite store on a file this process may not write (R17): `readonly: true`
 * reads what can be read soundly, and an open SQLite refuses is a
 * `StorageError` naming the file and what stops the process — not SQLite's
 * "attempt to write a readonly database". The stores are opened in a child
 * process run as the `postgres` system user, since root ignores permissions.
 */
import { execFile } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Storage from "../../src/store/DatabaseUrl.js"
import { JobStore } from "../../src/store/JobStore.js"
import { nodeArgsFor } from "../support/bundle.js"
import { tempSqliteFile } from "../support/stores.js"
import { openSqlite } from "../reliability/snapshot.js"
import { newJob } from "./fixtures.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const child = path.join(here, "list-jobs-child.ts")
/** Opens the file for writes with no check before SQLite's open, as when it turns read-only between the two. */
const pastCheckChild = path.join(here, "open-past-check-child.ts")

interface Listed {
  readonly jobs?: ReadonlyArray<string>
  readonly error?: { readonly _tag: string; readonly operation?: string; readonly message: string; readonly code?: string }
}

/** Lists the jobs of `filename` through a store built with `options`, in a child (`script`) run as `postgres` (when the tests run as root). */
const listAsPostgres = async (filename: string, options: Storage.StorageOptions, script = child): Promise<Listed> => {
  const line = [process.execPath, ...await nodeArgsFor(script), filename, JSON.stringify(options)]
  const [file, args] = process.getuid?.() === 0 ? ["runuser", ["-u", "postgres", "--", ...line]] : [line[0]!, line.slice(1)]
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd: "/", timeout: 60_000 }, (error, stdout, stderr) => {
      if (error !== null) return reject(new Error(`${error.message}\n${stderr}`))
      resolve(JSON.parse(stdout) as Listed)
    })
  })
}

/** A migrated database holding one job, closed (nothing left beside it), in a folder of its own: its path and the job's id. */
const seeded = async (label: string, journal: "wal" | "delete"): Promise<{ readonly file: string; readonly jobId: string }> => {
  const file = tempSqliteFile(label)
  const job = await Effect.runPromise(
    Effect.flatMap(JobStore, (store) => store.createJob(newJob())).pipe(Effect.provide(Storage.layerFromUrl(file)))
  )
  if (journal === "delete") {
    const db = openSqlite(file)
    db.pragma("journal_mode = DELETE")
    db.close()
  }
  return { file, jobId: job.job_id }
}

/** What a folder holds, each file's bytes as a hash. */
const contents = (dir: string) =>
  Object.fromEntries(fs.readdirSync(dir).sort().map((name) => [name, createHash("sha256").update(fs.readFileSync(path.join(dir, name))).digest("hex")]))

/** Makes `file` and everything beside it read-only (0444), and its folder too (0555). */
const readOnly = (file: string, fileMode = 0o444) => {
  const dir = path.dirname(file)
  for (const name of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, name), fileMode)
  fs.chmodSync(dir, 0o555)
  return dir
}

/** Each file's permission bits, and the folder's: a refused open changes none of them. */
const modes = (dir: string) => ({
  ".": fs.statSync(dir).mode & 0o7777,
  ...Object.fromEntries(fs.readdirSync(dir).sort().map((name) => [name, fs.statSync(path.join(dir, name)).mode & 0o7777]))
})

/** What `dir` holds and every mode in it: a refused open must leave both as they were. */
const snapshot = (dir: string) => ({ contents: contents(dir), modes: modes(dir) })

/** Lets anyone (the child's user) write `file` and create files beside it. */
const writableByAll = (file: string) => {
  fs.chmodSync(path.dirname(file), 0o777)
  fs.chmodSync(file, 0o666)
  return path.dirname(file)
}

const assertRefused = (listed: Listed, file: string, why: RegExp) => {
  assert.isDefined(listed.error, JSON.stringify(listed))
  assert.strictEqual(listed.error?._tag, "StorageError")
  assert.strictEqual(listed.error?.operation, `SqliteStore.open ${JSON.stringify(file)}`)
  assert.match(listed.error?.message ?? "", why)
  assert.notMatch(listed.error?.message ?? "", /attempt to write a readonly database/)
}

describe("SQLite store on a file this process may not write", { timeout: 120_000 }, () => {
  it("R17 a rollback-journal file, read-only in a read-only folder: readonly reads it; the default open is refused naming the file, the read-only file and readonly: true", async () => {
    const { file, jobId } = await seeded("perm-delete", "delete")
    const dir = readOnly(file)
    const before = contents(dir)
    assert.deepStrictEqual(await listAsPostgres(file, { readonly: true }), { jobs: [jobId] })
    assertRefused(
      await listAsPostgres(file, {}),
      file,
      /: this process cannot write it: the file is read-only; open it with readonly: true \(sqlite:<path>\?mode=ro\) to read it$/
    )
    assert.deepStrictEqual(contents(dir), before, "nothing written, nothing created beside it")
  })

  it("R17 a WAL file in a read-only folder with its -wal and -shm beside it (read-only too): readonly reads it and writes nothing", async () => {
    const { file, jobId } = await seeded("perm-wal-shm", "wal")
    // A connection left open: its -wal and -shm stay beside the file, copied as a live database's backup would be.
    const holder = openSqlite(file)
    holder.prepare("SELECT count(*) FROM ai_jobs").all()
    const copy = path.join(path.dirname(tempSqliteFile("perm-wal-shm-copy")), "jobs.db")
    for (const suffix of ["", "-wal", "-shm"]) fs.copyFileSync(`${file}${suffix}`, `${copy}${suffix}`)
    holder.close()
    const dir = readOnly(copy)
    const before = contents(dir)
    assert.deepStrictEqual(await listAsPostgres(copy, { readonly: true }), { jobs: [jobId] })
    assert.deepStrictEqual(contents(dir), before)
  })

  it("R17 a WAL file in a read-only folder with no -shm beside it: readonly is a StorageError naming the file and the -shm it cannot make, not \"attempt to write a readonly database\"; the default open says so too", async () => {
    const { file } = await seeded("perm-wal", "wal")
    const dir = readOnly(file)
    const before = contents(dir)
    assert.deepStrictEqual(Object.keys(before), ["jobs.db"])
    const listed = await listAsPostgres(file, { readonly: true })
    assertRefused(
      listed,
      file,
      /: this process cannot read it: it is a WAL database, read through a shared-memory file jobs\.db-shm beside it, and none is there \(no connection has it open\) nor can be made \(the folder is read-only\)/
    )
    assert.strictEqual(listed.error?.code, "SQLITE_READONLY_DIRECTORY", "SQLite's code is kept")
    assertRefused(await listAsPostgres(file, {}), file, /: this process cannot write it: the file is read-only; nor read it: it is a WAL database/)
    assert.deepStrictEqual(contents(dir), before)
  })

  it("R17 a file this process may not read: readonly is a StorageError saying so", async () => {
    const { file } = await seeded("perm-unreadable", "wal")
    readOnly(file, 0o000)
    assertRefused(await listAsPostgres(file, { readonly: true }), file, /: this process cannot read it: the file is not readable$/)
  })

  it("R17 an up-to-date WAL database, its file read-only (0444) in a folder this process may write: the default open is refused naming the file, the read-only file and readonly: true; nothing is created or changed", async () => {
    const { file, jobId } = await seeded("perm-wal-file", "wal")
    const dir = writableByAll(file)
    fs.chmodSync(file, 0o444)
    const before = snapshot(dir)
    assert.deepStrictEqual(Object.keys(before.contents), ["jobs.db"])
    assertRefused(
      await listAsPostgres(file, {}),
      file,
      /: this process cannot write it: the file is read-only; open it with readonly: true \(sqlite:<path>\?mode=ro\) to read it$/
    )
    assert.deepStrictEqual(snapshot(dir), before, "no -wal or -shm made, no mode changed")
    assert.deepStrictEqual(await listAsPostgres(file, { readonly: true }), { jobs: [jobId] }, "readonly: true reads it, as the error says")
  })

  it("R17 an up-to-date WAL database another process has open, the file, its -wal and -shm and its folder read-only: the default open is refused naming the read-only file and readonly: true; nothing changes", async () => {
    const { file, jobId } = await seeded("perm-wal-held", "wal")
    const holder = openSqlite(file)
    try {
      holder.prepare("SELECT count(*) FROM ai_jobs").all()
      const dir = readOnly(file)
      const before = snapshot(dir)
      assert.deepStrictEqual(Object.keys(before.contents), ["jobs.db", "jobs.db-shm", "jobs.db-wal"])
      assertRefused(
        await listAsPostgres(file, {}),
        file,
        /: this process cannot write it: the file is read-only; open it with readonly: true \(sqlite:<path>\?mode=ro\) to read it$/
      )
      assert.deepStrictEqual(snapshot(dir), before)
      assert.deepStrictEqual(await listAsPostgres(file, { readonly: true }), { jobs: [jobId] }, "readonly: true reads it, as the error says")
    } finally {
      holder.close()
    }
  })

  for (const side of ["-wal", "-shm"] as const) {
    it(`R17 a read-only (0444) jobs.db${side} beside an up-to-date, writable WAL database: the default open is a StorageError naming that journal file, not MigrationFailed "attempt to write a readonly database"; nothing changes`, async () => {
      const { file, jobId } = await seeded(`perm-side${side}`, "wal")
      const dir = writableByAll(file)
      fs.writeFileSync(`${file}${side}`, "")
      fs.chmodSync(`${file}${side}`, 0o444)
      const before = snapshot(dir)
      assertRefused(
        await listAsPostgres(file, {}),
        file,
        new RegExp(`: this process cannot write it: its journal file jobs\\.db${side} beside it is read-only; open it with readonly: true`)
      )
      assert.deepStrictEqual(snapshot(dir), before)
      assert.deepStrictEqual(await listAsPostgres(file, { readonly: true }), { jobs: [jobId] }, "readonly: true reads it, as the error says")
    })
  }

  it("R17 SQLite refusing the migrations' write (the -wal turned read-only between the store's check and its open) is explained as the StorageError of SqliteStore.open naming that file, SQLite's code kept, not MigrationFailed", async () => {
    const { file } = await seeded("perm-past-check", "wal")
    writableByAll(file)
    fs.writeFileSync(`${file}-wal`, "")
    fs.chmodSync(`${file}-wal`, 0o444)
    // SQLite opened it here (a -shm appears beside it): only the error is this test's concern.
    const listed = await listAsPostgres(file, {}, pastCheckChild)
    assertRefused(listed, file, /: this process cannot write it: its journal file jobs\.db-wal beside it is read-only; open it with readonly: true/)
    assert.match(listed.error?.code ?? "", /^SQLITE_READONLY/, "SQLite's code is kept")
  })

  it("R17 a symbolic link in a read-only folder to a WAL database in a folder this process may write: the default open is not refused (SQLite keeps the -wal and -shm beside the link's target) and lists the job", async () => {
    const { file, jobId } = await seeded("perm-link-target", "wal")
    writableByAll(file)
    const linkDir = path.dirname(tempSqliteFile("perm-link"))
    const link = path.join(linkDir, "jobs.db")
    fs.symlinkSync(file, link)
    fs.chmodSync(linkDir, 0o555)
    assert.deepStrictEqual(await listAsPostgres(link, {}), { jobs: [jobId] })
    assert.deepStrictEqual(fs.readdirSync(linkDir), ["jobs.db"], "nothing made beside the link")
  })

  it("R17 a symbolic link in a writable folder to a WAL database whose own folder is read-only: the default open is refused naming that folder, as SQLite would be at the first write", async () => {
    const { file, jobId } = await seeded("perm-link-ro-target", "wal")
    fs.chmodSync(file, 0o666)
    fs.chmodSync(path.dirname(file), 0o555)
    const linkDir = path.dirname(tempSqliteFile("perm-link-writable"))
    fs.chmodSync(linkDir, 0o777)
    const link = path.join(linkDir, "jobs.db")
    fs.symlinkSync(file, link)
    const before = snapshot(path.dirname(file))
    assertRefused(await listAsPostgres(link, {}), link, /: this process cannot write it: its folder is read-only, and SQLite writes its journal files beside the database/)
    assert.deepStrictEqual(snapshot(path.dirname(file)), before)
    assert.deepStrictEqual(fs.readdirSync(linkDir), ["jobs.db"])
    fs.chmodSync(path.dirname(file), 0o777)
    assert.deepStrictEqual(await listAsPostgres(link, {}), { jobs: [jobId] }, "the same open once the target's folder is writable")
  })

  it("R17 a name with `..` after a linked folder (d/../jobs.db, d a link to x/y) is the file the kernel opens, x/jobs.db: written through when x is writable though the link's own folder is not", async () => {
    const { file, jobId } = await seeded("perm-dotdot", "wal")
    writableByAll(file)
    const x = path.dirname(file)
    fs.mkdirSync(path.join(x, "y"))
    const l1 = path.dirname(tempSqliteFile("perm-dotdot-link"))
    fs.symlinkSync(path.join(x, "y"), path.join(l1, "d"))
    fs.chmodSync(l1, 0o555)
    // Read as text, the name is l1/jobs.db: a file that is not there, in a folder this user may not write.
    assert.deepStrictEqual(await listAsPostgres(`${l1}/d/../jobs.db`, {}), { jobs: [jobId] })
  })

  it("R17 a read-only -journal left beside a WAL database (SQLite never uses it in WAL mode) does not stop the default open", async () => {
    const { file, jobId } = await seeded("perm-wal-journal", "wal")
    writableByAll(file)
    fs.writeFileSync(`${file}-journal`, Buffer.alloc(4096))
    fs.chmodSync(`${file}-journal`, 0o444)
    assert.deepStrictEqual(await listAsPostgres(file, {}), { jobs: [jobId] })
  })

  it("R17 a database file this process may write but not read (0222): the default open is a StorageError saying it cannot read it, not \"unable to open database file\"", async () => {
    const { file } = await seeded("perm-write-only", "wal")
    writableByAll(file)
    fs.chmodSync(file, 0o222)
    assertRefused(await listAsPostgres(file, {}), file, /: this process cannot read it: the file is not readable$/)
  })
})
