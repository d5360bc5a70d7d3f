/**
 * pg_stat_statements per database (issue 16): per top-level statement its
 * calls per unit of work and its mean planning and execution time on the
 * server, printed as a table. Used by serverTime.ts and preparedStatements.ts.
 */
import type pg from "pg"

/** One statement's totals on the server. */
export interface StatementStat {
  readonly query: string
  readonly calls: number
  /** Total planning and execution time, ms. */
  readonly plan: number
  readonly exec: number
}

/** The statements run in `database` since the last reset, costliest first. */
export const statementStats = async (admin: pg.Client, database: string): Promise<Array<StatementStat>> =>
  (await admin.query<StatementStat>(
    `SELECT s.query, sum(s.calls)::float8 AS calls, sum(s.total_plan_time)::float8 AS plan, sum(s.total_exec_time)::float8 AS exec
     FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
     WHERE d.datname = $1 AND s.toplevel GROUP BY s.query ORDER BY sum(s.total_exec_time) DESC`,
    [database]
  )).rows

/**
 * Prints the statements run at least once every 20 units (`per` units in all)
 * and returns the server time per unit of all statements, µs: planning and
 * execution in all, and planning alone.
 */
export const printStatementStats = (title: string, rows: ReadonlyArray<StatementStat>, per: number) => {
  let total = 0
  let planning = 0
  console.log(`\n## ${title}`)
  console.log("| statement | calls/unit | plan µs | exec µs | µs/unit |")
  console.log("|---|---|---|---|---|")
  for (const r of rows) {
    const perUnit = r.calls / per
    const each = (r.plan + r.exec) / r.calls * 1000
    total += each * perUnit
    planning += r.plan / r.calls * 1000 * perUnit
    if (perUnit < 0.05) continue
    console.log(`| ${r.query.replace(/\s+/g, " ").slice(0, 110)} | ${perUnit.toFixed(2)} | ${(r.plan / r.calls * 1000).toFixed(0)} | ${(r.exec / r.calls * 1000).toFixed(0)} | ${(each * perUnit).toFixed(0)} |`)
  }
  console.log(`server time per unit (statements, not commit flushes): ${total.toFixed(0)} µs, of which planning ${planning.toFixed(0)} µs`)
  return { total, planning }
}
