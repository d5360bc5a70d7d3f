/**
 * What a stored event body must be: one `FlightRecorder.list` reads back
 * (`StoredFlightEvent`: a current shape or a 0.1.0 one, no key beyond it).
 * The one decode both sides use — the JobStore port refuses, at the write,
 * a body that reading would refuse, since a row no listing can decode fails
 * every listing that meets it, for everyone.
 *
 * A body is decoded by the shapes of the type it names (a `system` one by
 * the one shape it names, as the recorder does): the whole union would also
 * report what every other type lacks.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"
import { securityShapeOf, systemShapeOf } from "./flightEventShapes.js"
import { StoredEventShapes, StoredFlightEvent } from "./LegacyFlightEvent.js"

type Decode = (body: unknown) => Either.Either<StoredFlightEvent, ParseResult.ParseIssue>

// errors: "all" so every problem is named at once; a key beyond the shape is one.
const options = { errors: "all", onExcessProperty: "error" } as const
const decodeAs = (schema: Schema.Schema.AnyNoContext): Decode =>
  ParseResult.decodeUnknownEither(schema as Schema.Schema<StoredFlightEvent, unknown>, options)

/** The `type` a member of the union stores (its encoded side's literal). */
const storedType = (member: Schema.Schema.AnyNoContext): unknown => {
  const shape = AST.encodedAST(member.ast)
  const type = AST.isTypeLiteral(shape) ? shape.propertySignatures.find((field) => field.name === "type")?.type : undefined
  return type !== undefined && AST.isLiteral(type) ? type.literal : undefined
}

const decodeAny = decodeAs(StoredFlightEvent)
/** Each type's shapes, current and 0.1.0: what a body of that type may be. */
const byType = new Map<unknown, Decode>()
for (const type of new Set(StoredFlightEvent.members.map(storedType))) {
  byType.set(type, decodeAs(Schema.Union(...StoredFlightEvent.members.filter((member) => storedType(member) === type))))
}
const shapes = StoredEventShapes
const told = {
  lifecycle: decodeAs(shapes.JobLifecycleEvent),
  summary: decodeAs(shapes.GcSummaryEvent),
  frEvt008: decodeAs(shapes.FrEvt008SecurityViolationEvent),
  policy: decodeAs(shapes.PolicyViolationEvent),
  ...Object.fromEntries(Object.entries(shapes.FlightEventSchemas).map(([type, schema]) => [type, decodeAs(schema)]))
} as Readonly<Record<string, Decode>>

/**
 * The current shape `body` is meant as, whose problems a refusal names (a
 * 0.1.0 shape is read, never what a writer is told to follow); undefined
 * when its type is unknown or a `system` body names both shapes' fields or
 * neither's.
 */
const meantShape = (body: object, type: unknown): Decode | undefined =>
  type === "system"
    ? told[systemShapeOf(body) ?? ""]
    : type === "security_violation"
    ? told[securityShapeOf(body)]
    : typeof type === "string" && Object.hasOwn(shapes.FlightEventSchemas, type) ? told[type] : undefined

const decodeNow: Decode = (body) => {
  if (typeof body !== "object" || body === null) return decodeAny(body)
  const type = (body as { readonly type?: unknown }).type
  const decoded = (byType.get(type) ?? decodeAny)(body)
  if (Either.isRight(decoded)) return decoded
  const meant = meantShape(body, type)
  return meant === undefined ? decoded : meant(body)
}

/** A stored body decoded as the event it holds (what `FlightRecorder.list` shows). */
export const decodeStoredBody = (body: unknown): Effect.Effect<StoredFlightEvent, ParseResult.ParseError> =>
  Either.match(decodeNow(body), {
    onLeft: (issue) => Effect.fail(new ParseResult.ParseError({ issue })),
    onRight: Effect.succeed
  })

/** What is wrong with `body` as a stored event, or undefined when it reads back. */
export const storedBodyIssue = (body: unknown): ParseResult.ParseIssue | undefined => {
  const decoded = decodeNow(body)
  return Either.isLeft(decoded) ? decoded.left : undefined
}
