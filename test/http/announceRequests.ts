/**
 * Preloaded into an `ai-jobs serve` under test (`--import`): writes
 * `test: request <METHOD> <url>` on stderr as each request reaches the
 * server, just before the server's handler takes it — so a test knows a
 * request is in flight (a SQLite write lock shows no waiter) before it acts.
 */
import * as http from "node:http"

const emit = http.Server.prototype.emit
http.Server.prototype.emit = function(this: http.Server, event: string | symbol, ...args: Array<unknown>) {
  if (event === "request") {
    const request = args[0] as http.IncomingMessage
    process.stderr.write(`test: request ${request.method} ${request.url}\n`)
  }
  return Reflect.apply(emit, this, [event, ...args]) as boolean
} as typeof emit
