/**
 * Bearer-token authorization: the configured token, compared in constant
 * time with the one a request presents.
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { createHash, timingSafeEqual } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { Authorization } from "./Api.js"
import { Unauthorized } from "./Errors.js"
import { MIN_TOKEN_LENGTH, tokenProblem, tokenRule } from "./tokenRules.js"

export { MIN_TOKEN_LENGTH }

/**
 * A configured token that is too short to protect anything, or that no
 * Authorization header can carry (`ai-jobs serve` refuses the same ones).
 */
export class InvalidToken extends Schema.TaggedError<InvalidToken>()("InvalidToken", {
  length: Schema.Int,
  problem: Schema.optionalWith(Schema.Literal("too_short", "unsendable"), { default: () => "too_short" as const })
}) {
  override get message(): string {
    return `The API ${tokenRule[this.problem]}${this.problem === "too_short" ? ` (got ${this.length})` : ""}`
  }
}

// Hashing first gives both sides the same length, so neither the comparison
// nor an early length check tells an attacker anything about the token.
const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest()

/** Whether `presented` equals `expected`, in time independent of where they differ. */
export const tokensMatch = (presented: string, expected: string): boolean =>
  timingSafeEqual(digest(presented), digest(expected))

/** Whether an `Authorization` header is `Bearer <expected>`. */
export const isAuthorized = (header: string | undefined, expected: string): boolean => {
  const match = /^bearer (.*)$/is.exec(header ?? "")
  return match !== null && tokensMatch(match[1] ?? "", expected)
}

/**
 * The request's Authorization header, or undefined when it has none or more
 * than one. Node keeps only the first of repeated Authorization headers, so a
 * request carrying two (a right and a wrong token, say) would be judged by
 * whichever came first; such a request is ambiguous and refused.
 */
export const authorizationOf = (request: HttpServerRequest.HttpServerRequest): string | undefined => {
  const raw = (request.source as { readonly rawHeaders?: unknown } | null)?.rawHeaders
  if (Array.isArray(raw)) {
    let seen = 0
    for (let i = 0; i < raw.length; i += 2) {
      if (String(raw[i]).toLowerCase() === "authorization") seen++
    }
    if (seen > 1) return undefined
  }
  return request.headers.authorization
}

/** A random token (32 bytes, base64url): what `ai-jobs serve` makes when none is configured. */
export const generateToken = (): Redacted.Redacted<string> =>
  Redacted.make(Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url"))

/** The Authorization middleware for `token`; a token the rule refuses (tokenRules.ts) is `InvalidToken`. */
export const layer = (token: Redacted.Redacted<string>): Layer.Layer<Authorization, InvalidToken> => {
  const expected = Redacted.value(token)
  const problem = tokenProblem(expected)
  if (problem !== undefined) return Layer.fail(new InvalidToken({ length: expected.length, problem }))
  return Layer.succeed(Authorization, Authorization.of({
    // The platform hands over whatever follows the header's first 7 characters;
    // read the header itself, so only "Bearer <token>" is accepted.
    bearer: () =>
      Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
        isAuthorized(authorizationOf(request), expected) ? Effect.void : Effect.fail(new Unauthorized()))
  }))
}
