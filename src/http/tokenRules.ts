/**
 * The API token's one rule, in a module of its own so that the CLI (`serve`'s
 * help and its refusal) and the HTTP layer (`InvalidToken`) judge a token
 * alike without the CLI loading the HTTP stack.
 */

/** The shortest token accepted: 16 characters, so guessing it is hopeless. */
export const MIN_TOKEN_LENGTH = 16

/**
 * A token a client can send: printable ASCII, inner spaces allowed. An HTTP
 * header cannot carry a control character, and the server trims spaces at
 * its ends, so any other token would refuse every request.
 */
const SENDABLE_TOKEN = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/

/** Why a token is refused: too short to protect anything, or one no request could carry. */
export type TokenProblem = "too_short" | "unsendable"

/** What is wrong with `token`, or undefined when it may be used. */
export const tokenProblem = (token: string): TokenProblem | undefined =>
  token.length < MIN_TOKEN_LENGTH ? "too_short" : SENDABLE_TOKEN.test(token) ? undefined : "unsendable"

/** Each problem as the rule it breaks, beginning "token must …". */
export const tokenRule: Readonly<Record<TokenProblem, string>> = {
  too_short: `token must be at least ${MIN_TOKEN_LENGTH} characters long`,
  unsendable: "token must be printable ASCII without spaces at either end (a newline or a trailing space, say from a " +
    "file, could never be sent in an Authorization header, so no request would pass)"
}
