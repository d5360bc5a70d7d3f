/**
 * @deprecated Renamed `PgJobStore` (named after the port it implements).
 * This alias stays for one release; import `./PgJobStore.js` instead.
 */
export * from "./PgJobStore.js"
