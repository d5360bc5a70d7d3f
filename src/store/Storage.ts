/**
 * @deprecated Renamed `DatabaseUrl` (it parses database URLs and picks the
 * store they name). This alias stays for one release; import
 * `./DatabaseUrl.js` instead.
 */
export * from "./DatabaseUrl.js"
