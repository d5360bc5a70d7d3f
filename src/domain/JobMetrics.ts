/**
 * Job metrics (R4, HSK-JOB-101): nine non-negative integer counters, never null,
 * zeroed from the moment a job is created.
 */
import * as Schema from "effect/Schema"

const U32_MAX = 4_294_967_295

/**
 * A whole number in [0, max], refused with its range whatever check fails: overriding, because an
 * integer past 2^53 fails `Schema.Int`'s safe-integer check first, whose own message ("Expected an
 * integer, actual 9007199254740992") called a whole number no integer.
 */
const boundedInt = (identifier: string, max: number) =>
  Schema.Int.pipe(Schema.between(0, max)).annotations({
    identifier,
    message: () => ({ message: `Expected an integer between 0 and ${max}`, override: true })
  })

/** A u32 counter, as the reference types it. */
const Count = boundedInt("Count", U32_MAX)

/** A u64 duration, bounded by what a JavaScript number holds exactly. */
const DurationMs = boundedInt("DurationMs", Number.MAX_SAFE_INTEGER)

const zeroed = (schema: typeof Count) =>
  Schema.optionalWith(schema, { default: () => 0, exact: true })

/** The nine metric names, in the reference's order. */
export const MetricNames = [
  "duration_ms",
  "total_tokens",
  "input_tokens",
  "output_tokens",
  "tokens_planner",
  "tokens_executor",
  "entities_read",
  "entities_written",
  "validators_run_count"
] as const
export type MetricName = typeof MetricNames[number]

/** The largest value each metric holds. */
export const metricBounds: { readonly [Name in MetricName]: number } = {
  duration_ms: Number.MAX_SAFE_INTEGER,
  total_tokens: U32_MAX,
  input_tokens: U32_MAX,
  output_tokens: U32_MAX,
  tokens_planner: U32_MAX,
  tokens_executor: U32_MAX,
  entities_read: U32_MAX,
  entities_written: U32_MAX,
  validators_run_count: U32_MAX
}

/**
 * The metrics of a job. A missing field decodes to 0 (`{}` is all zeros);
 * `null`, negatives, fractions, NaN, infinities, numeric strings and
 * out-of-range values are rejected.
 *
 * Its JSON Schema (and the OpenAPI document's) requires all nine: a job's
 * metrics always carry them (R4), as every encode writes them. The decode's
 * defaults are for what a client never sees: a legacy row's partial metrics.
 */
export class JobMetrics extends Schema.Class<JobMetrics>("JobMetrics")({
  duration_ms: zeroed(DurationMs),
  total_tokens: zeroed(Count),
  input_tokens: zeroed(Count),
  output_tokens: zeroed(Count),
  tokens_planner: zeroed(Count),
  tokens_executor: zeroed(Count),
  entities_read: zeroed(Count),
  entities_written: zeroed(Count),
  validators_run_count: zeroed(Count)
}, [undefined, undefined, { jsonSchema: { required: [...MetricNames] } }]) {
  /** All nine counters at zero: the metrics of a freshly created job. */
  static readonly zero: JobMetrics = new JobMetrics({})

  /**
   * `metrics` plus `delta`, each counter saturating at its bound instead of
   * failing: a run's duration added when it settles, which must never fail
   * (a constructor error there would leave the job `running` for good), and
   * `Jobs.addMetrics`' amounts once decoded (each in range; the sum is the
   * job's, held at the bound). A delta that is not a finite number ≥ 0 adds
   * nothing; fractions are rounded down.
   */
  static add(metrics: JobMetrics, delta: Partial<Record<MetricName, number>>): JobMetrics {
    const sum = (name: MetricName): number => {
      const add = delta[name]
      const step = add !== undefined && Number.isFinite(add) && add > 0 ? Math.floor(add) : 0
      return Math.min(metricBounds[name], metrics[name] + step)
    }
    return new JobMetrics(Object.fromEntries(MetricNames.map((name) => [name, sum(name)])))
  }
}

/**
 * Stored metrics in their own form — a plain object of exactly the nine
 * counters, each whole and in range — as the instance `JobMetrics`' decode
 * gives, without the Schema (a row decode's, issue 16: ~60 µs a job after
 * its first settle); `undefined` for anything else, which the Schema decides.
 */
export const metricsInStoredForm = (value: unknown): JobMetrics | undefined => {
  if (typeof value !== "object" || value === null || Object.getPrototypeOf(value) !== Object.prototype) return undefined
  if (Object.keys(value).length !== MetricNames.length) return undefined
  const fields: Record<string, number> = {}
  for (const name of MetricNames) {
    const count = (value as Record<string, unknown>)[name]
    if (typeof count !== "number" || !Number.isSafeInteger(count) || count < 0 || count > metricBounds[name]) return undefined
    fields[name] = count
  }
  // Checked above, field by field, as the Schema checks them.
  return new JobMetrics(fields as unknown as JobMetrics, true)
}
