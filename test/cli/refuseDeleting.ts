/**
 * A trigger of the test's that makes the database refuse to delete one row:
 * a failure forced part-way through a command that deletes in batches (a
 * purge, a prune), on either store.
 */
import { createRequire } from "node:module"
import { connectPg } from "../support/pg-database.js"

const Database = createRequire(import.meta.url)("better-sqlite3") as new (filename: string) => {
  exec(sql: string): unknown
  close(): void
}

/** The database (a SQLite file or a `postgres://` URL) refuses to delete the row of `table` whose `column` is `value`. */
export const refuseDeleting = (database: string, table: string, column: string, value: string): Promise<void> =>
  database.startsWith("postgres") ? refuseDeletingPg(database, table, column, value) : refuseDeletingSqlite(database, table, column, value)

const refuseDeletingSqlite = async (file: string, table: string, column: string, value: string): Promise<void> => {
  const db = new Database(file)
  db.exec(`CREATE TRIGGER test_refuse_delete_${table} BEFORE DELETE ON ${table} WHEN OLD.${column} = '${value}'
    BEGIN SELECT RAISE(ABORT, 'test: this row may not be deleted'); END`)
  db.close()
}

const refuseDeletingPg = async (url: string, table: string, column: string, value: string): Promise<void> => {
  const admin = await connectPg(url)
  await admin.query(`CREATE FUNCTION test_refuse_delete_${table}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'test: this row may not be deleted'; END $$`)
  await admin.query(`CREATE TRIGGER test_refuse_delete_${table} BEFORE DELETE ON ${table}
    FOR EACH ROW WHEN (OLD.${column} = '${value}') EXECUTE FUNCTION test_refuse_delete_${table}()`)
  await admin.end()
}
