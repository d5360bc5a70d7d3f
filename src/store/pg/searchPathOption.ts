/**
 * The refusals of a search_path that does not lead to the store, and how
 * they write the URL option that points a store at a schema
 * (`?options=-c search_path=jobs`), so that the option, put in the URL
 * exactly as written, reaches the schema it names.
 */
import { MigrationFailed } from "../StoreErrors.js"

/** An identifier in double quotes, its own quotes doubled: `quote_ident`'s form when the server cannot be asked. */
export const doubleQuoted = (name: string): string => `"${name.replace(/"/g, '""')}"`

/**
 * A `-c` setting's value as the server reads the startup `options`: a space
 * separates arguments unless escaped, and a backslash escapes (PostgreSQL's
 * docs on the `options` parameter). `"Team Jobs"` is written `"Team\ Jobs"`.
 */
const optionValue = (value: string): string => value.replace(/\\/g, "\\\\").replace(/ /g, "\\ ")

/**
 * The `options` query parameter setting `search_path` to `schema` (as
 * `quote_ident` wrote it), as it is written in a URL: plain, as the README
 * shows it (`-c search_path=jobs`), unless the name holds a character a URL
 * query reads otherwise (`&` ends the parameter, `+` is a space, `#` starts
 * the fragment, `%` an escape); then percent-encoded whole — a space left
 * raw beside an escape makes node-postgres encode the URL again, and
 * `%2B` would reach the server as `%2B` (found by a regression probe).
 */
export const searchPathOption = (schema: string): string => {
  const option = `-c search_path=${optionValue(schema)}`
  return /[&+#%]/.test(option) ? encodeURIComponent(option) : option
}

/** A search_path refused for the store it does not lead to, `said` naming the schemas and the options to use. */
export const searchPathRefusal = (said: string): MigrationFailed =>
  new MigrationFailed({ dialect: "pg", migration_id: null, migration_name: null, statement: null, cause: new Error(said) })
