/**
 * In-process access to a database the CLI wrote, through the library itself:
 * to find ids the commands are then asked about, to check what a refused
 * command left untouched, and to leave behind a crashed worker's run.
 */
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import { pastClock } from "../../src/cli/demo/pastClock.js"
import type { AiJob } from "../../src/domain/AiJob.js"
import type { Claim } from "../../src/store/JobStore.js"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as Storage from "../../src/store/Storage.js"
import { services } from "../jobs/services.js"

const store = (url: string) => Storage.layerFromUrl(url, { migrate: false }) as Layer.Layer<JobStore>

/** Every job in the database, oldest first. */
export const allJobs = (url: string): Promise<ReadonlyArray<AiJob>> =>
  Effect.runPromise(Effect.flatMap(JobStore, (s) => Effect.map(s.listJobs({ limit: 1000 }), (page) => page.items)).pipe(
    Effect.provide(store(url))
  ))

/** How many events the database holds. */
export const eventCount = (url: string): Promise<number> =>
  Effect.runPromise(Effect.flatMap(JobStore, (s) => Effect.map(s.listEvents({ limit: 1000 }), (page) => page.items.length)).pipe(
    Effect.provide(store(url))
  ))

/** What a worker that died ten minutes ago leaves: a job claimed then, its run `running` with a stale heartbeat. */
export const crashedRun = (url: string): Promise<Claim> =>
  Effect.runPromise(Effect.gen(function*() {
    const jobs = yield* Jobs
    const job = yield* jobs.submit({
      job_kind: "doc_summarize",
      protocol_id: "hsk.test.v1",
      profile_id: "tester",
      capability_profile_id: "Analyst",
      access_mode: "analysis_only",
      safety_mode: "normal"
    })
    return yield* jobs.start(job.job_id)
  }).pipe(Effect.withClock(pastClock("10 minutes")), Effect.provide(services(store(url)))))
