/**
 * A timing breakdown from the spans the library already emits (`Effect.fn`
 * names such as `JobStore.createJob`, and @effect/sql's `sql.execute` per
 * statement): a tracer that only adds up, per span name, the calls, the
 * total time and the self time (total minus child spans).
 */
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"

/** Totals for one span name. */
export interface SpanTotal {
  readonly name: string
  readonly count: number
  readonly totalMs: number
  readonly selfMs: number
}

interface TimedSpan extends Tracer.Span {
  childNs: bigint
}

/** A tracer that aggregates span durations, and its report. */
export const makeSpanProfile = () => {
  const totals = new Map<string, { count: number; totalNs: bigint; selfNs: bigint }>()
  let next = 0
  const tracer = Tracer.make({
    span(name, parent, context, links, startTime, kind) {
      const attributes = new Map<string, unknown>()
      const span: TimedSpan = {
        _tag: "Span",
        name,
        spanId: (next++).toString(16),
        traceId: Option.isSome(parent) ? parent.value.traceId : (next++).toString(16),
        parent,
        context,
        status: { _tag: "Started", startTime },
        attributes,
        links,
        sampled: true,
        kind,
        childNs: 0n,
        end(endTime) {
          const duration = endTime - startTime
          const entry = totals.get(name) ?? { count: 0, totalNs: 0n, selfNs: 0n }
          entry.count++
          entry.totalNs += duration
          entry.selfNs += duration - span.childNs
          totals.set(name, entry)
          if (Option.isSome(parent) && "childNs" in parent.value) (parent.value as TimedSpan).childNs += duration
        },
        attribute(key, value) {
          attributes.set(key, value)
        },
        event() {},
        addLinks() {}
      }
      return span
    },
    context: (f) => f()
  })
  const report = (): Array<SpanTotal> =>
    [...totals.entries()]
      .map(([name, t]) => ({ name, count: t.count, totalMs: Number(t.totalNs) / 1e6, selfMs: Number(t.selfNs) / 1e6 }))
      .sort((a, b) => b.selfMs - a.selfMs)
  return { tracer, report, reset: () => totals.clear() }
}
