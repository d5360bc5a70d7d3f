/**
 * The 201 answer of `POST /jobs`, the job `Jobs.submit` created. The platform
 * encodes a route's answer with its success schema, and `AiJob`'s encode
 * checks `job_inputs` once on each side of its defaults' transformation: two
 * more walks of inputs `Jobs.submit` has just checked and copied (~110 ms
 * each for a 95,000-key job, on the event loop; found by an outside probe).
 * Here they are taken as the library's own; every other field is encoded by
 * `AiJob`'s own schemas, so the answer is the one the platform wrote.
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { AiJob } from "../domain/AiJob.js"

/** `AiJob` with its inputs as they are: they are the copy `Jobs.submit` made when it checked them. */
const SubmittedJob = Schema.Struct({ ...AiJob.fields, job_inputs: Schema.NullOr(Schema.Unknown) })

const encodeSubmitted = Schema.encode(SubmittedJob)

/** `job`, created by `Jobs.submit`, as `POST /jobs` answers it: 201 with the job. */
export const createdAnswer = (job: AiJob): Effect.Effect<HttpServerResponse.HttpServerResponse> =>
  // Both fail only on a job the library itself built wrong: a defect, as the platform's encode makes it.
  Effect.orDie(Effect.flatMap(encodeSubmitted(job), (encoded) => HttpServerResponse.json(encoded, { status: 201 })))
