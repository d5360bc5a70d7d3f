/**
 * The package as published works, installed the way a user installs it:
 *
 * 1. `npm pack` in a staging copy of the checkout (its `prepare` script builds
 *    `dist/` there), so the checkout's own `dist/` is never deleted under
 *    commands that use it;
 * 2. `npm install <tarball> effect @effect/...` in a new project, the peers by
 *    the ranges the package declares: npm resolves the package's own
 *    dependencies and checks its peerDependencies like any registry install;
 * 3. compile a strict TypeScript program that imports only
 *    `@handshake/ai-job-model` and effect, run it, and run the `ai-jobs` bin.
 *
 * Fast: npm reads the packages from its cache (`--prefer-offline`; the
 * registry only for a package the cache lacks) and runs no install scripts.
 * The one install script the program needs, better-sqlite3's native build
 * (minutes of C++), is replaced by the binary this checkout already built for
 * the same version; typescript and @types/node, the consumer's own tools, are
 * linked from this checkout.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"

const repoRoot = fileURLToPath(new URL("../../", import.meta.url))

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const run = (command: string, args: ReadonlyArray<string>, cwd: string): Promise<Run> =>
  new Promise((resolve) => {
    execFile(command, args, { cwd, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr }))
  })

interface PackageJson {
  readonly name: string
  readonly version: string
  readonly license: string
  readonly files: ReadonlyArray<string>
  readonly bin: Record<string, string>
  readonly dependencies: Record<string, string>
  readonly peerDependencies: Record<string, string>
  readonly devDependencies: Record<string, string>
}

const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as PackageJson

let work = ""
let staging = ""
let project = ""
let installed = ""
let tree: Run
/** The checkout's `dist/` before and after packing: its inode and mtime, or null when absent. */
let checkoutDistBefore: string | null = null
let checkoutDistAfter: string | null = null

const distIdentity = (): string | null => {
  const dist = path.join(repoRoot, "dist")
  if (!fs.existsSync(dist)) return null
  const stat = fs.statSync(dist)
  return `${stat.ino}:${stat.mtimeMs}`
}

/** Links `name` (e.g. `typescript`) in the project's node_modules to the repository's copy. */
const linkFromRepo = (name: string) => {
  const target = path.join(repoRoot, "node_modules", name)
  const link = path.join(project, "node_modules", name)
  fs.mkdirSync(path.dirname(link), { recursive: true })
  fs.symlinkSync(target, link, "dir")
}

const versionOf = (packageDir: string): string =>
  (JSON.parse(fs.readFileSync(path.join(packageDir, "package.json"), "utf8")) as PackageJson).version

/** Every file under `dir`, recursively. */
const filesUnder = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name))

/** Fails with the command's own output when it did not succeed. */
const check = (what: string, result: Run): Run => {
  if (result.code !== 0) throw new Error(`${what} failed (exit ${result.code}):\n${result.stdout.slice(-4000)}\n${result.stderr.slice(-4000)}`)
  return result
}

const PROGRAM = `import {
  AiJob,
  Capabilities,
  CapabilityDenied,
  EscalationDenied,
  FlightRecorder,
  InvalidEvent,
  JobRequest,
  Jobs,
  JobsApi,
  Recovery,
  RunLost,
  Storage,
  WakeUp
} from "@handshake/ai-job-model"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"

const newJob = Schema.decodeUnknownSync(JobRequest)({
  job_kind: "doc_summarize",
  protocol_id: "hsk.example.v1",
  profile_id: "example",
  capability_profile_id: "Analyst",
  access_mode: "analysis_only",
  safety_mode: "normal"
})

const app = Jobs.layer().pipe(
  Layer.provideMerge(Recovery.layerStartup()),
  Layer.provideMerge(WakeUp.layerPollOnly),
  Layer.provideMerge(FlightRecorder.layer()),
  Layer.provideMerge(Capabilities.layerDefault),
  Layer.provideMerge(Storage.layerFromUrl(":memory:"))
)

const program = Effect.gen(function*() {
  const jobs = yield* Jobs.Jobs
  const job = yield* jobs.submit(newJob)
  const denied = yield* jobs.submit({ ...newJob, job_kind: "terminal_exec" }).pipe(
    Effect.as("accepted"),
    Effect.catchTag("EscalationDenied", (error) => Effect.succeed(\`\${error._tag}: \${error.policy_profile_id}\`))
  )
  // The error classes from the root are the ones the services fail with.
  const deniedClass = yield* Effect.flip(jobs.submit({ ...newJob, job_kind: "terminal_exec" }))
  const invalid = yield* Effect.flip(Effect.flatMap(FlightRecorder.FlightRecorder, (recorder) => recorder.recordUntrusted({ type: "nope" })))
  const page = yield* jobs.list({ states: ["queued"] })
  const encoded = Schema.encodeSync(AiJob)(page.items[0]!)
  const events = yield* Effect.flatMap(FlightRecorder.FlightRecorder, (recorder) => recorder.list({ job_id: job.job_id }))
  // Building the HTTP app reads the web console's files from the installed package.
  const httpApp = yield* Effect.scoped(JobsApi.httpApp({ token: Redacted.make("a-token-of-16-chars") }))
  console.log(JSON.stringify({
    http_app: typeof httpApp,
    state: job.state,
    denied,
    root_errors: [
      deniedClass instanceof EscalationDenied,
      invalid instanceof InvalidEvent,
      Capabilities.CapabilityDenied === CapabilityDenied,
      Jobs.RunLost === RunLost
    ],
    listed: page.items.length,
    created_at_is_text: typeof encoded.created_at === "string",
    event_types: events.items.map((event) => event.type)
  }))
})

Effect.runPromise(Effect.provide(program, app)).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
`

const TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    lib: ["ES2022"],
    types: ["node"],
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    skipLibCheck: false,
    outDir: "out"
  },
  include: ["main.ts"]
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-pack-"))
  checkoutDistBefore = distIdentity()

  // A staging copy of what the build and the tarball need; `npm pack` runs the
  // `prepare` script (npm run build) there, so the tarball holds a fresh dist/.
  staging = path.join(work, "staging")
  fs.mkdirSync(staging)
  // What the build reads, and what `files` ships (dist/ the build makes).
  const sources = new Set(["package.json", "tsconfig.json", "tsconfig.build.json", "src", ...manifest.files.filter((entry) => entry !== "dist")])
  for (const entry of sources) fs.cpSync(path.join(repoRoot, entry), path.join(staging, entry), { recursive: true })
  fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(staging, "node_modules"), "dir")
  check("npm pack", await run("npm", ["pack", "--pack-destination", work], staging))
  checkoutDistAfter = distIdentity()
  const tarball = fs.readdirSync(work).find((name) => name.endsWith(".tgz"))
  if (tarball === undefined) throw new Error("npm pack wrote no tarball")

  // A user's project: the package and its peers, by the ranges the package declares.
  project = path.join(work, "project")
  fs.mkdirSync(project)
  fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }))
  const peers = Object.entries(manifest.peerDependencies).map(([name, range]) => `${name}@${range}`)
  check("npm install", await run("npm", [
    "install", "--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund", path.join(work, tarball), ...peers
  ], project))
  installed = path.join(project, "node_modules", ...manifest.name.split("/"))
  // npm's own check of the tree it installed (before any tool is linked in).
  tree = await run("npm", ["ls", "--all"], project)

  // better-sqlite3's install script compiles its native module; take the one
  // this checkout built, which is only right for the very same version.
  const betterSqlite = path.join(project, "node_modules", "better-sqlite3")
  const builtBetterSqlite = path.join(repoRoot, "node_modules", "better-sqlite3")
  if (versionOf(betterSqlite) !== versionOf(builtBetterSqlite)) {
    throw new Error(`better-sqlite3 ${versionOf(betterSqlite)} in the project, ${versionOf(builtBetterSqlite)} built here: the native module does not fit`)
  }
  fs.mkdirSync(path.join(betterSqlite, "build", "Release"), { recursive: true })
  fs.copyFileSync(
    path.join(builtBetterSqlite, "build", "Release", "better_sqlite3.node"),
    path.join(betterSqlite, "build", "Release", "better_sqlite3.node")
  )

  // Tools from the checkout, unless the install brought them (@types/node comes with @types/pg).
  for (const tool of ["typescript", "@types/node"]) {
    if (!fs.existsSync(path.join(project, "node_modules", tool))) linkFromRepo(tool)
  }
  fs.writeFileSync(path.join(project, "tsconfig.json"), JSON.stringify(TSCONFIG, null, 2))
  fs.writeFileSync(path.join(project, "main.ts"), PROGRAM)
}, 300_000)

afterAll(() => {
  if (work !== "") fs.rmSync(work, { recursive: true, force: true })
})

describe("the package as published", { timeout: 300_000 }, () => {
  it("R17 packing builds in a staging copy and leaves the checkout's dist/ alone", () => {
    assert.strictEqual(checkoutDistAfter, checkoutDistBefore)
    assert.isTrue(fs.existsSync(path.join(staging, "dist", "index.js")), "the build ran in the staging copy")
  })

  it("R17 the tarball ships dist (with the web console), src for the source maps, migrations and the LICENSE, not the tests", () => {
    assert.isTrue(fs.existsSync(path.join(installed, "dist", "index.js")))
    assert.isTrue(fs.existsSync(path.join(installed, "dist", "index.d.ts")))
    assert.isTrue(fs.existsSync(path.join(installed, "migrations", "sqlite", "0001_reference_schema.sql")))
    assert.isTrue(fs.existsSync(path.join(installed, "migrations", "pg", "0001_reference_schema.sql")))
    for (const file of ["index.html", "app.js", "style.css"]) {
      assert.isTrue(fs.existsSync(path.join(installed, "dist", "http", "console", file)), `the web console's ${file} ships`)
    }
    assert.isTrue(fs.existsSync(path.join(installed, "src", "index.ts")))
    assert.isFalse(fs.existsSync(path.join(installed, "test")))
    assert.isFalse(fs.existsSync(path.join(installed, "bench")))
    assert.strictEqual(manifest.license, "MIT")
    const license = fs.readFileSync(path.join(installed, "LICENSE"), "utf8")
    assert.match(license, /^MIT License\n\nCopyright \(c\) \d{4} the @handshake\/ai-job-model authors\n/)
    assert.include(license, "THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND")
  })

  it("R17 every source map points at files the package ships", () => {
    const maps = filesUnder(path.join(installed, "dist")).filter((file) => file.endsWith(".map"))
    assert.isAbove(maps.length, 100, "the build writes .js.map and .d.ts.map files")
    for (const map of maps) {
      const { sourceRoot = "", sources } = JSON.parse(fs.readFileSync(map, "utf8")) as { sourceRoot?: string; sources: Array<string> }
      assert.isNotEmpty(sources, map)
      for (const source of sources) {
        const resolved = path.resolve(path.dirname(map), sourceRoot, source)
        assert.isTrue(resolved.startsWith(installed + path.sep), `${map} points outside the package: ${source}`)
        assert.isTrue(fs.existsSync(resolved), `${map} points at ${source}, which the package does not ship`)
      }
    }
    // And each compiled file names a map that ships beside it.
    for (const file of filesUnder(path.join(installed, "dist")).filter((file) => /\.(js|d\.ts)$/.test(file) && !file.includes(`${path.sep}console${path.sep}`))) {
      const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(fs.readFileSync(file, "utf8"))?.[1]
      assert.isDefined(url, `${file} names its map`)
      assert.isTrue(fs.existsSync(path.resolve(path.dirname(file), url!)), `${file}'s map ${url} ships`)
    }
  })

  it("R17 effect and the @effect/* libraries are peers (one copy in the user's tree); pg and its types are dependencies", async () => {
    const shipped = JSON.parse(fs.readFileSync(path.join(installed, "package.json"), "utf8")) as PackageJson
    // @types/pg too: PgJobStore's public types name the PgClient, whose declarations import pg's.
    assert.deepStrictEqual(Object.keys(shipped.dependencies), ["@types/pg", "pg"])
    assert.includeMembers(Object.keys(shipped.peerDependencies), ["effect", "@effect/platform", "@effect/sql", "@effect/sql-pg", "@effect/sql-sqlite-node"])
    for (const [name, range] of Object.entries(shipped.peerDependencies)) {
      assert.isTrue(name === "effect" || name.startsWith("@effect/"), `${name} is an Effect library`)
      assert.strictEqual(manifest.devDependencies[name], range, `${name}: the dev copy has the peer's range`)
      const copies = filesUnder(path.join(project, "node_modules"))
        .filter((file) => file.endsWith(path.join("node_modules", name, "package.json")))
      assert.deepStrictEqual(copies, [path.join(project, "node_modules", name, "package.json")], `one copy of ${name}`)
    }
    // npm's own check: nothing missing, nothing invalid, every peer satisfied.
    assert.strictEqual(tree.code, 0, tree.stdout + tree.stderr)
  })

  it("R17 a strict TypeScript project compiles and runs a program that imports only the package", async () => {
    const compile = await run(process.execPath, [path.join(project, "node_modules", "typescript", "bin", "tsc"), "-p", "."], project)
    assert.strictEqual(compile.code, 0, compile.stdout + compile.stderr)
    const result = await run(process.execPath, [path.join("out", "main.js")], project)
    assert.strictEqual(result.code, 0, result.stderr)
    assert.deepStrictEqual(JSON.parse(result.stdout), {
      http_app: "object",
      state: "queued",
      denied: "EscalationDenied: Coder",
      root_errors: [true, true, true, true],
      listed: 1,
      created_at_is_text: true,
      event_types: ["capability_action", "system"]
    })
  })

  it("R17 the build makes the bin ai-jobs executable, with its shebang, and it runs from the package", async () => {
    assert.strictEqual(manifest.bin["ai-jobs"], "./dist/cli/main.js")
    // The build itself sets the mode (npm install would chmod a bin, a rebuild in a checkout would not).
    assert.notStrictEqual(fs.statSync(path.join(staging, "dist", "cli", "main.js")).mode & 0o111, 0, "the build makes it executable")
    const bin = path.join(installed, "dist", "cli", "main.js")
    assert.isTrue(fs.readFileSync(bin, "utf8").startsWith("#!/usr/bin/env node\n"))
    assert.notStrictEqual(fs.statSync(bin).mode & 0o111, 0, "the tarball keeps the mode")
    // Run as a program (through its shebang), the way `npx ai-jobs` does.
    const version = await run(path.join(project, "node_modules", ".bin", "ai-jobs"), ["--version"], project)
    assert.strictEqual(version.code, 0, version.stderr)
    assert.strictEqual(version.stdout.trim(), `v${manifest.version}`)
    const direct = await run(bin, ["--version"], project)
    assert.strictEqual(direct.code, 0, direct.stderr)
    // The migrations ship beside dist/, and the built CLI finds them.
    const migrate = await run(process.execPath, [bin, "migrate", "--database", path.join(project, "data", "jobs.db")], project)
    assert.strictEqual(migrate.code, 0, migrate.stderr)
    assert.match(migrate.stdout, /is migrated/)
  })
})
