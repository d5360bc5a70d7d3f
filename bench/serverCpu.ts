/**
 * The CPU a throwaway cluster's processes used, from /proc (Linux): what
 * concurrentCost.ts and groupTimeline.ts charge to the server.
 */
import * as fs from "node:fs"

const TICK_MICROS = 1e6 / 100 // USER_HZ

/** CPU of every process of the cluster (the postmaster's children by parent pid), µs. */
export const serverCpuMicros = (postmaster: number): number => {
  let ticks = 0
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      // After the command: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14)
      // The postmaster's cutime + cstime keep the CPU of backends that have ended.
      if (Number(entry) === postmaster) ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])
      else if (Number(fields[1]) === postmaster) ticks += Number(fields[11]) + Number(fields[12])
    } catch {
      // gone meanwhile
    }
  }
  return ticks * TICK_MICROS
}
