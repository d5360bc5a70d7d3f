/**
 * Issue 15.1, the retry policy as pure functions: attempts per kind with a
 * default, exponential backoff with jitter bounded on both sides, and bad
 * configuration refused with every problem named.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { decodeWith } from "../../src/domain/decode.js"
import * as RetryPolicy from "../../src/domain/RetryPolicy.js"

const decodePolicy = decodeWith(RetryPolicy.RetryPolicy, "RetryPolicy")
const backoff = (input: typeof RetryPolicy.Backoff.Encoded) => Schema.decodeSync(RetryPolicy.Backoff)(input)
const ms = (duration: Duration.Duration) => Duration.toMillis(duration)

describe("issue 15.1 retry policy", () => {
  it("issue 15.1 with nothing configured a failed job is not retried: one attempt in all", () => {
    assert.strictEqual(RetryPolicy.noRetries.default.maxAttempts, 1)
    assert.deepStrictEqual(RetryPolicy.decide({ attempt: 1, max_attempts: 1 }, RetryPolicy.noRetries.default.backoff, 0.5), { _tag: "GiveUp" })
  })

  it.effect("issue 15.1 a kind's own policy wins over the default; other kinds take the default", () =>
    Effect.gen(function*() {
      const policy = yield* decodePolicy({
        default: { maxAttempts: 3 },
        kinds: { doc_summarize: { maxAttempts: 5, backoff: { initial: "2 seconds" } } }
      })
      assert.strictEqual(RetryPolicy.forKind(policy, "doc_summarize").maxAttempts, 5)
      assert.strictEqual(ms(Duration.decode(RetryPolicy.forKind(policy, "doc_summarize").backoff.initial)), 2000)
      assert.strictEqual(RetryPolicy.forKind(policy, "terminal_exec").maxAttempts, 3)
      assert.strictEqual(ms(Duration.decode(RetryPolicy.forKind(policy, "terminal_exec").backoff.initial)), 1000)
    }))

  it("issue 15.1 attempts left: the next attempt's number and a wait; the last attempt failed: give up", () => {
    const b = backoff({ initial: 1000, factor: 2, max: "1 hour", jitter: 0 })
    assert.deepStrictEqual(RetryPolicy.decide({ attempt: 1, max_attempts: 3 }, b, 0), { _tag: "Retry", attempt: 2, delay: Duration.millis(1000) })
    assert.deepStrictEqual(RetryPolicy.decide({ attempt: 2, max_attempts: 3 }, b, 0), { _tag: "Retry", attempt: 3, delay: Duration.millis(2000) })
    assert.deepStrictEqual(RetryPolicy.decide({ attempt: 3, max_attempts: 3 }, b, 0), { _tag: "GiveUp" })
    // An operator's retry past the maximum makes attempt 4 of 3: it is not retried again.
    assert.deepStrictEqual(RetryPolicy.decide({ attempt: 4, max_attempts: 3 }, b, 0), { _tag: "GiveUp" })
  })

  it("issue 15.1 backoff without jitter doubles from the initial wait and stops at the maximum", () => {
    const b = backoff({ initial: "1 second", factor: 2, max: "10 seconds", jitter: 0 })
    assert.deepStrictEqual([1, 2, 3, 4, 5, 6, 50].map((n) => ms(RetryPolicy.delayAfter(b, n, 0.999))), [1000, 2000, 4000, 8000, 10_000, 10_000, 10_000])
  })

  it("issue 15.1 jitter takes at most its share off the capped wait and never adds: bounded on both sides", () => {
    const b = backoff({ initial: "1 second", factor: 3, max: "1 minute", jitter: 0.25 })
    for (let attempt = 1; attempt <= 40; attempt++) {
      const capped = Math.min(60_000, 1000 * 3 ** (attempt - 1))
      for (const draw of [0, 0.1, 0.5, 0.9, 0.999999, 1, -5, 7]) {
        const delay = ms(RetryPolicy.delayAfter(b, attempt, draw))
        assert.isAtMost(delay, capped, `attempt ${attempt}, draw ${draw}`)
        assert.isAtLeast(delay, Math.floor(capped * 0.75), `attempt ${attempt}, draw ${draw}`)
      }
    }
    assert.strictEqual(ms(RetryPolicy.delayAfter(b, 1, 0)), 1000, "a draw of 0 takes nothing off")
    assert.strictEqual(ms(RetryPolicy.delayAfter(b, 1, 1)), 750, "a draw of 1 takes the whole share off")
  })

  it("issue 15.1 a huge attempt number or factor never overflows past the maximum", () => {
    const b = backoff({ initial: "1 second", factor: 1000, max: "5 minutes", jitter: 0 })
    assert.strictEqual(ms(RetryPolicy.delayAfter(b, 1_000_000, 0)), 300_000)
  })

  it.effect("issue 15.1 a bad policy is a DecodeFailure naming every problem", () =>
    Effect.gen(function*() {
      const failure = yield* Effect.flip(decodePolicy({
        default: { maxAttempts: 0, backoff: { factor: 0.5, jitter: 2, initial: "soon" } },
        kinds: { frobnicate: { maxAttempts: 2 }, doc_edit: { maxAttempts: 1.5 } }
      }))
      assert.strictEqual(failure._tag, "DecodeFailure")
      const paths = failure.issues.map((issue) => issue.path).sort()
      for (const path of ["default.maxAttempts", "default.backoff.factor", "default.backoff.jitter", "default.backoff.initial", "kinds.doc_edit.maxAttempts", "kinds.frobnicate"]) {
        assert.isTrue(paths.some((p) => p.includes(path)), `${path} in ${paths.join(", ")}`)
      }
    }))

  it.effect("issue 15.1 max attempts are bounded by what the database stores", () =>
    Effect.gen(function*() {
      const decode = decodeWith(RetryPolicy.MaxAttempts, "max_attempts")
      assert.strictEqual(yield* decode(RetryPolicy.MAX_ATTEMPTS_LIMIT), RetryPolicy.MAX_ATTEMPTS_LIMIT)
      for (const bad of [0, -1, 1.5, RetryPolicy.MAX_ATTEMPTS_LIMIT + 1, Number.NaN, Infinity, "3"]) {
        assert.strictEqual((yield* Effect.flip(decode(bad)))._tag, "DecodeFailure", String(bad))
      }
    }))

  it.effect("issue 15.1 a wait is from 0 to 365 days: a negative one (number, text or tuple), a longer wait and a misspelt field are refused, for a kind and for a job", () =>
    Effect.gen(function*() {
      const decodeBackoff = decodeWith(RetryPolicy.Backoff, "Backoff")
      const decodeJob = decodeWith(RetryPolicy.JobBackoff, "backoff")
      for (const bad of [{ initial: -1 }, { max: -5n }, { initial: "-1 seconds" }, { max: " -5 millis" }, { initial: [-1, 0] }, { max: "366 days" }, { initial: Infinity }, { intial: "1 second" }]) {
        assert.strictEqual((yield* Effect.flip(decodeBackoff(bad)))._tag, "DecodeFailure", JSON.stringify(bad, (_, v) => typeof v === "bigint" ? String(v) : v))
        assert.strictEqual((yield* Effect.flip(decodeJob(bad)))._tag, "DecodeFailure")
      }
      assert.strictEqual(ms(Duration.decode((yield* decodeBackoff({ max: "365 days" })).max)), Duration.toMillis(RetryPolicy.MAX_DELAY))
    }))

  it.effect("issue 15.1 a job's own backoff is the kind's shape and defaults, stored in milliseconds, and wins over its kind's; none: the kind's", () =>
    Effect.gen(function*() {
      const policy = yield* decodePolicy({ kinds: { doc_summarize: { backoff: { initial: "10 seconds" } } } })
      const own = yield* decodeWith(RetryPolicy.JobBackoff, "backoff")({ initial: "2 seconds", max: "1 minute" })
      assert.deepStrictEqual(own, { initial: 2000, factor: 2, max: 60_000, jitter: 0.2 })
      assert.deepStrictEqual(yield* decodeWith(RetryPolicy.JobBackoff, "backoff")(own), own, "the stored form decodes to itself")
      assert.strictEqual(RetryPolicy.backoffOf(policy, { job_kind: "doc_summarize", backoff: own }), own)
      assert.strictEqual(ms(Duration.decode(RetryPolicy.backoffOf(policy, { job_kind: "doc_summarize", backoff: null }).initial)), 10_000)
    }))

  it("issue 15.1 a retry is eligible its delay later, or at the last storable instant (9999-12-31T23:59:59.999Z) when that comes first", () => {
    const at = (iso: string) => DateTime.unsafeMake(iso)
    const iso = (instant: DateTime.Utc) => DateTime.formatIso(instant)
    assert.strictEqual(iso(RetryPolicy.eligibleAt(at("2026-01-01T12:00:00.000Z"), Duration.hours(1))), "2026-01-01T13:00:00.000Z")
    assert.strictEqual(iso(RetryPolicy.eligibleAt(at("9999-12-31T22:59:59.999Z"), Duration.hours(1))), "9999-12-31T23:59:59.999Z", "exactly the end")
    assert.strictEqual(iso(RetryPolicy.eligibleAt(at("9999-12-31T23:00:00.000Z"), Duration.hours(1))), "9999-12-31T23:59:59.999Z")
    assert.strictEqual(iso(RetryPolicy.eligibleAt(at("9999-12-31T23:00:00.000Z"), RetryPolicy.MAX_DELAY)), "9999-12-31T23:59:59.999Z")
  })
})
