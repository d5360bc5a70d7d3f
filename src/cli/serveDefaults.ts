/** Where `ai-jobs serve` listens, and what counts as this machine only. */
import { isIPv4 } from "node:net"

/** Where `serve` listens unless told otherwise. */
export const DEFAULT_HOST = "127.0.0.1"
export const DEFAULT_PORT = 8787

/** Whether `host` only ever reaches this machine. */
export const isLoopback = (host: string): boolean => {
  const bare = host.replace(/^\[(.*)\]$/, "$1").toLowerCase()
  if (bare === "localhost" || bare === "::1") return true
  const v4 = bare.replace(/^::ffff:/, "")
  return isIPv4(v4) && v4.startsWith("127.")
}
