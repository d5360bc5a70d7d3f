/**
 * A child process for sqlite-permissions.test.ts: opens the store a URL names
 * with the options given as JSON (argv 2 and 3), lists its jobs and prints one
 * JSON line (childListing.ts). Run as a user file permissions bind (root
 * ignores them).
 */
import * as Storage from "../../src/store/DatabaseUrl.js"
import { printListing } from "./childListing.js"

const [url = "", json = "{}"] = process.argv.slice(2)

printListing(Storage.layerFromUrl(url, JSON.parse(json) as Storage.StorageOptions))
