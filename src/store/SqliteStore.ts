/**
 * @deprecated Renamed `SqliteJobStore` (named after the port it implements).
 * This alias stays for one release; import `./SqliteJobStore.js` instead.
 */
export * from "./SqliteJobStore.js"
