/**
 * The PostgreSQL store's one taxonomy of driver failures (src/store/pg/faults.ts),
 * against a table of (SQLSTATE, severity) cases as pg gives them — no
 * severity at all (no server answered), ERROR, FATAL, PANIC. Three
 * near-copies disagreed at the edges (found by a review of them): the open
 * and migrate path counted only a lost connection (class 08, 57P01-57P03,
 * FATAL) as the database failing, so a full disk (53100), out of memory
 * (53200), an I/O error (58030) or the database being dropped (57P04) was a
 * permanent `MigrationFailed`; and a socket error that carries a code
 * (ECONNRESET) did not break its held connection.
 */
import { SqlError } from "@effect/sql/SqlError"
import { assert, describe, it } from "@effect/vitest"
import { breaksSession, isDatabaseFailure } from "../../src/store/pg/faults.js"
import { isNoRowsFault } from "../../src/store/pg/errors.js"

/** A driver error as pg gives it: SQLSTATE (or Node's error) `code`, server `severity` (absent: no server answered). */
const driverError = (code: string | undefined, severity: string | undefined) =>
  Object.assign(new Error("driver"), code === undefined ? {} : { code }, severity === undefined ? {} : { severity })

interface Case {
  readonly code: string | undefined
  readonly severity: string | undefined
  /** The session is unfit for the next statement. */
  readonly breaks: boolean
  /** The database failed rather than refused the statement (a StorageError at open and migrate; no group member's fault). */
  readonly failed: boolean
}

const cases: ReadonlyArray<Case> = [
  // No server answered: a socket closed, a read timeout, a connection never made.
  { code: undefined, severity: undefined, breaks: true, failed: true },
  { code: "ECONNRESET", severity: undefined, breaks: true, failed: true },
  { code: "ETIMEDOUT", severity: undefined, breaks: true, failed: true },
  // The server ended the session.
  { code: "57P01", severity: "FATAL", breaks: true, failed: true },
  { code: "57P02", severity: "FATAL", breaks: true, failed: true },
  { code: "57P03", severity: "FATAL", breaks: true, failed: true },
  { code: "25P03", severity: "FATAL", breaks: true, failed: true },
  { code: "XX000", severity: "PANIC", breaks: true, failed: true },
  { code: "53300", severity: "FATAL", breaks: true, failed: true },
  // The database failing at ERROR level: the statement ends, the session goes on.
  { code: "08006", severity: "ERROR", breaks: false, failed: true },
  { code: "08P01", severity: "ERROR", breaks: false, failed: true },
  { code: "53100", severity: "ERROR", breaks: false, failed: true },
  { code: "53200", severity: "ERROR", breaks: false, failed: true },
  { code: "58030", severity: "ERROR", breaks: false, failed: true },
  { code: "58P01", severity: "ERROR", breaks: false, failed: true },
  { code: "57000", severity: "ERROR", breaks: false, failed: true },
  { code: "57P01", severity: "ERROR", breaks: false, failed: true },
  { code: "57P04", severity: "ERROR", breaks: false, failed: true },
  // A statement the database refuses: it will refuse it again.
  { code: "57014", severity: "ERROR", breaks: false, failed: false },
  { code: "55P03", severity: "ERROR", breaks: false, failed: false },
  { code: "42601", severity: "ERROR", breaks: false, failed: false },
  { code: "42501", severity: "ERROR", breaks: false, failed: false },
  { code: "23505", severity: "ERROR", breaks: false, failed: false },
  { code: "25006", severity: "ERROR", breaks: false, failed: false },
  { code: "40P01", severity: "ERROR", breaks: false, failed: false },
  { code: "XX000", severity: "ERROR", breaks: false, failed: false },
  // A server error without a SQLSTATE is no answer pg could read.
  { code: undefined, severity: "ERROR", breaks: true, failed: true }
]

describe("PostgreSQL driver failures: one taxonomy", () => {
  for (const { breaks, code, failed, severity } of cases) {
    it(`R9 ${code ?? "no code"} at ${severity ?? "no severity"}: breaks the session ${breaks}, the database failed ${failed}`, () => {
      const error = driverError(code, severity)
      const sqlError = new SqlError({ cause: error })
      assert.strictEqual(breaksSession(error), breaks, "breaksSession")
      assert.strictEqual(isDatabaseFailure(sqlError), failed, "isDatabaseFailure")
      // Group commit asks the same question: a failure of the database is no member's fault.
      assert.strictEqual(isNoRowsFault(sqlError), failed, "isNoRowsFault")
    })
  }

  it("R9 a broken session is always a database failure", () => {
    for (const { code, severity } of cases) {
      if (breaksSession(driverError(code, severity))) assert.isTrue(isDatabaseFailure(new SqlError({ cause: driverError(code, severity) })), `${code} ${severity}`)
    }
  })
})
