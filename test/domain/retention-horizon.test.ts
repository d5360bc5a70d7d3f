/**
 * FR-EVT-004 (spec §11.5): evidence missing due to retention is shown as
 * missing, with its reason. What a job's views say, from the store's
 * retention horizon (the newest cutoff a purge applied, and when), and how
 * the OpenAPI document the server serves describes it on `GET /jobs/:id`.
 */
import { OpenApi } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import { evidenceMissing, JobsApi, type RetentionHorizon } from "../../src/index.js"

const iso = (text: string) => DateTime.unsafeMake(text)

/** A 7-day purge whose cutoff was taken 300 ms before it ran, recorded before migration 0033 (no window, no cutoff asked). */
const horizon: RetentionHorizon = {
  cutoff: iso("2026-11-30T12:00:00.000Z"),
  purged_at: iso("2026-12-07T12:00:00.300Z"),
  window_ms: null,
  requested_cutoff: null
}

describe("FR-EVT-004 evidence missing due to retention", () => {
  it("FR-EVT-004 a job started before the cutoff: its evidence may be missing, the reason names the cutoff and the window", () => {
    assert.deepStrictEqual(evidenceMissing(horizon, [iso("2026-11-29T08:00:00.000Z")]), {
      reason: "retention",
      cutoff: horizon.cutoff,
      purged_at: horizon.purged_at,
      window: "7d",
      requested_cutoff: null,
      message: "events before 2026-11-30T12:00:00.000Z were removed by the retention policy (7d)"
    })
  })

  it("FR-EVT-004 the window is the one the purge was asked to apply, not the cutoff-to-purge time of the database's clock; a cutoff the database's clock capped is said to be capped", () => {
    // A 1-hour purge from a host 2 hours ahead of the database: it asked for 13:00, the database's clock (12:00) capped it.
    const capped: RetentionHorizon = {
      cutoff: iso("2026-12-07T12:00:00.000Z"),
      purged_at: iso("2026-12-07T12:00:00.000Z"),
      window_ms: 3_600_000,
      requested_cutoff: iso("2026-12-07T13:00:00.000Z")
    }
    assert.deepStrictEqual(evidenceMissing(capped, [iso("2026-12-01T00:00:00.000Z")]), {
      reason: "retention",
      cutoff: capped.cutoff,
      purged_at: capped.purged_at,
      window: "1h",
      requested_cutoff: iso("2026-12-07T13:00:00.000Z"),
      message: "events before 2026-12-07T12:00:00.000Z were removed by the retention policy " +
        "(1h; it asked for events before 2026-12-07T13:00:00.000Z, past the database's clock, which capped the cutoff)"
    })
    // Not capped: the cutoff asked is the cutoff applied; the window is still the one asked (a host behind the database).
    const behind: RetentionHorizon = { ...capped, purged_at: iso("2026-12-07T15:00:00.000Z"), requested_cutoff: capped.cutoff }
    const missing = evidenceMissing(behind, [iso("2026-12-01T00:00:00.000Z")])
    assert.strictEqual(missing?.window, "1h")
    assert.isNull(missing?.requested_cutoff)
    assert.strictEqual(missing?.message, "events before 2026-12-07T12:00:00.000Z were removed by the retention policy (1h)")
  })

  it("FR-EVT-004 a job created after the cutoff whose run started before it (a legacy row) is marked too; one whose job and runs all started at or after it is not", () => {
    assert.strictEqual(evidenceMissing(horizon, [iso("2026-12-01T00:00:00.000Z"), iso("2026-11-30T11:59:59.999Z")])?.reason, "retention")
    assert.isNull(evidenceMissing(horizon, [horizon.cutoff, iso("2026-12-01T00:00:00.000Z")]))
  })

  it("FR-EVT-004 a database that never purged (no horizon) marks no job", () => {
    assert.isNull(evidenceMissing(null, [iso("1970-01-01T00:00:00.000Z")]))
  })

  it("FR-EVT-004 the OpenAPI document describes GET /jobs/:id's evidence_missing: null or the reason, cutoff, purge time, window and message", () => {
    type Json = { readonly [key: string]: unknown }
    const doc = OpenApi.fromApi(JobsApi.Api) as unknown as { readonly components: { readonly schemas: Record<string, Json> } }
    const detail = doc.components.schemas["JobDetail"]!
    assert.include([...(detail["required"] as ReadonlyArray<string>)], "evidence_missing")
    assert.match(JSON.stringify((detail["properties"] as Json)["evidence_missing"]), /#\/components\/schemas\/EvidenceMissing/)
    const missing = doc.components.schemas["EvidenceMissing"]!
    assert.match(String(missing["description"]), /retention/)
    assert.sameMembers([...(missing["required"] as ReadonlyArray<string>)], ["reason", "cutoff", "purged_at", "window", "requested_cutoff", "message"])
  })
})
