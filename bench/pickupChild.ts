/**
 * The worker process of bench/comparePickup.ts's cross-process case: one idle
 * one-loop pool of the checkout at argv[2] on the PostgreSQL database at
 * argv[3], woken only by the database's NOTIFY (nothing is submitted in this
 * process). Sends "ready" once it listens, then, for each job its program
 * starts, the wall-clock time of the start (`performance.timeOrigin + now`,
 * comparable across processes of one machine).
 */
import * as Effect from "effect/Effect"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import type * as App from "./app.js"
import type * as JobsModule from "../src/Jobs.js"
import type * as WakeUpModule from "../src/WakeUp.js"

const main = async () => {
  const [root, url] = process.argv.slice(2)
  if (root === undefined || url === undefined) throw new Error("usage: pickupChild.ts <checkout> <postgres url>")
  const app = await import(path.join(root, "bench/app.ts")) as typeof App
  const { Jobs } = await import(path.join(root, "src/Jobs.ts")) as typeof JobsModule
  const WakeUp = await import(path.join(root, "src/WakeUp.ts")) as typeof WakeUpModule
  await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const jobs = yield* Jobs
    yield* jobs.worker({
      concurrency: 1,
      handler: () => Effect.sync(() => process.send!({ started: performance.timeOrigin + performance.now() }))
    })
    yield* Effect.flatMap(WakeUp.WakeUp, (wake) => wake.ready)
    process.send!("ready")
    // Until the parent disconnects.
    yield* Effect.async<void>((resume) => {
      process.once("disconnect", () => resume(Effect.void))
    })
  })).pipe(Effect.provide(app.servicesLayer({ dialect: "pg", url }, WakeUp.layerPg({ listenUrl: url })))))
}

void main().then(() => process.exit(0), (error) => {
  console.error(error)
  process.exit(1)
})
