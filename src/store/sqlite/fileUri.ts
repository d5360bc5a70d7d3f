/**
 * SQLite `file:` URIs given as a database name. SQLite reads one as a URI
 * only where URIs are enabled (the CLI enables them for its own read-only
 * opens), elsewhere as a relative path: `file:/abs/x.db` was
 * `./file:/abs/x.db`; in the CLI a URI whose path, mode and in-memory form
 * its checks, messages and refusals read as a path (found by an outside
 * probe). A `sqlite:` URL says the same with its `?mode=`, so a `file:` name
 * is refused, never guessed at.
 */

/** Whether `name` is written as a `file:` URI (in any case: `FILE:` is no path anyone means either). */
export const isFileUri = (name: string): boolean => /^file:/i.test(name)

/** Why a `file:` name is refused. */
export const FILE_URI_REFUSAL =
  "a SQLite file: URI is not a path: name the file itself, or write it as sqlite:<path>[?mode=rwc|rw|ro|memory]"
