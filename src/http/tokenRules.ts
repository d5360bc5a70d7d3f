/**
 * The API token's one rule, in a module of its own so that the CLI can name
 * it in `serve`'s help without loading the HTTP stack.
 */

/** The shortest token accepted: 16 characters, so guessing it is hopeless. */
export const MIN_TOKEN_LENGTH = 16
