/**
 * Every property name the event schemas define, at any depth (`job_id`,
 * `token_usage`, `prompt_tokens`, `startLine`, …). The recorder redacts the
 * keys of an event's JSON (Privacy.ts `sanitize`), but not these: a field's
 * name is the schema's, never a caller's secret, and a caller's rule that
 * happened to match one (`/token/`) would break the event's shape.
 */
import type * as SchemaAST from "effect/SchemaAST"
import { FlightEvent } from "../../domain/FlightEvent.js"

const collect = (ast: SchemaAST.AST, names: Set<string>, seen: Set<SchemaAST.AST>): void => {
  if (seen.has(ast)) return
  seen.add(ast)
  switch (ast._tag) {
    case "TypeLiteral":
      for (const property of ast.propertySignatures) {
        if (typeof property.name === "string") names.add(property.name)
        collect(property.type, names, seen)
      }
      for (const index of ast.indexSignatures) collect(index.type, names, seen)
      return
    case "Union":
      for (const member of ast.types) collect(member, names, seen)
      return
    case "TupleType":
      for (const element of ast.elements) collect(element.type, names, seen)
      for (const rest of ast.rest) collect(rest.type, names, seen)
      return
    case "Refinement":
      return collect(ast.from, names, seen)
    case "Transformation":
      collect(ast.from, names, seen)
      return collect(ast.to, names, seen)
    case "Suspend":
      return collect(ast.f(), names, seen)
    default:
      return
  }
}

const names = new Set<string>()
collect(FlightEvent.ast, names, new Set())

/** The event schemas' own field names. */
export const eventFieldNames: ReadonlySet<string> = names
