/**
 * Where a URL's password ends, for text no URL parser reads as its owner meant
 * (a password holding `/`, `?`, `#` or `@` unencoded). Shared by the recorder's
 * `url-password` rule and `redactDatabaseUrl`, so both keep the same host.
 */

// What may follow `@` as the host: a name (`db.internal`, `%`-escapes) or a bracketed IPv6
// address, an optional `:port`, then the end of the authority (`/`, `?`, `#`), a space, a quote,
// punctuation around a URL in prose or JSON (`,;)]}<>` and the `\` of an escaped quote) or the
// end of the text. An empty host (`@/db`, a socket's) counts.
const HOST = String.raw`(?:\[[0-9A-Fa-f:.]*\]|[A-Za-z0-9._~%-]*)(?::\d*)?(?=[\s/?#"'\x60,;)\]}<>\\]|$)`
// A password's character: anything but a space and `@`, never the start of the next URL; in the
// fallback, `@` too.
const PASSWORD_CHAR = String.raw`(?:(?!:\/\/)[^\s@])`
const ANY_PASSWORD_CHAR = String.raw`(?:(?!:\/\/)\S)`

/**
 * The password after `user:`, up to (not including) its `@`: it ends at the first `@` followed
 * by a host (HOST), so an `@` later in the path or query (`?notify=ops@example.com`) leaves the
 * host shown, and an `@` followed by no host (`ab@cd@host`: `cd` runs into an `@`) is part of
 * the password. An empty password (`user:@host`) is none. No such `@` (`pw@host!x`): up to the last `@` before a space or the next `://`,
 * so a password is never shown for want of a host. Linear: every `@` is read once as a possible
 * end, its host once, and a match reads no further than the next space or `://`.
 */
export const URL_PASSWORD =
  String.raw`(?!@${HOST})(?:${PASSWORD_CHAR}*(?:@(?!${HOST})${PASSWORD_CHAR}*)*(?=@${HOST})|${ANY_PASSWORD_CHAR}+(?=@))`
