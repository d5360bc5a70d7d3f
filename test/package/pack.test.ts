/**
 * The package as published works: `npm pack` (whose `prepare` script builds
 * `dist/`), unpack the tarball into a separate project's node_modules, compile
 * a strict TypeScript program that imports only `@handshake/ai-job-model`, run
 * it, and run the packaged `ai-jobs` bin.
 *
 * Offline and fast: the project's dependencies are symlinks to this
 * repository's node_modules instead of a registry install.
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
  readonly bin: Record<string, string>
  readonly dependencies: Record<string, string>
}

const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as PackageJson

let work = ""
let project = ""
let installed = ""
let pack: Run

/** Links `name` (e.g. `@effect/sql`) in the project's node_modules to the repository's copy. */
const linkFromRepo = (name: string) => {
  const target = path.join(repoRoot, "node_modules", name)
  const link = path.join(project, "node_modules", name)
  fs.mkdirSync(path.dirname(link), { recursive: true })
  fs.symlinkSync(target, link, "dir")
}

const PROGRAM = `import { AiJob, Capabilities, FlightRecorder, JobRequest, Jobs, JobsApi, Recovery, Storage } from "@handshake/ai-job-model"
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
  const page = yield* jobs.list({ states: ["queued"] })
  const encoded = Schema.encodeSync(AiJob)(page.items[0]!)
  const events = yield* Effect.flatMap(FlightRecorder.FlightRecorder, (recorder) => recorder.list({ job_id: job.job_id }))
  // Building the HTTP app reads the web console's files from the installed package.
  const httpApp = yield* Effect.scoped(JobsApi.httpApp({ token: Redacted.make("a-token-of-16-chars") }))
  console.log(JSON.stringify({
    http_app: typeof httpApp,
    state: job.state,
    denied,
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
  // `npm pack` runs the `prepare` script (npm run build) first, so the tarball holds a fresh dist/.
  pack = await run("npm", ["pack", "--pack-destination", work], repoRoot)
  const tarball = fs.readdirSync(work).find((name) => name.endsWith(".tgz"))
  if (pack.code !== 0 || tarball === undefined) {
    // Every test below depends on the tarball: fail them all with the build's own words.
    throw new Error(`npm pack failed (exit ${pack.code}):\n${pack.stdout.slice(-4000)}\n${pack.stderr.slice(-2000)}`)
  }

  project = path.join(work, "project")
  installed = path.join(project, "node_modules", ...manifest.name.split("/"))
  fs.mkdirSync(installed, { recursive: true })
  await run("tar", ["-xzf", path.join(work, tarball), "-C", installed, "--strip-components=1"], work)
  for (const dependency of [...Object.keys(manifest.dependencies), "typescript", "@types/node"]) linkFromRepo(dependency)
  fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }))
  fs.writeFileSync(path.join(project, "tsconfig.json"), JSON.stringify(TSCONFIG, null, 2))
  fs.writeFileSync(path.join(project, "main.ts"), PROGRAM)
}, 300_000)

afterAll(() => {
  if (work !== "") fs.rmSync(work, { recursive: true, force: true })
})

describe("the package as published", { timeout: 300_000 }, () => {
  it("R17 npm pack builds and ships dist (with the web console) and migrations, not the sources or tests", () => {
    assert.isTrue(fs.existsSync(path.join(installed, "dist", "index.js")))
    assert.isTrue(fs.existsSync(path.join(installed, "dist", "index.d.ts")))
    assert.isTrue(fs.existsSync(path.join(installed, "migrations", "sqlite", "0001_reference_schema.sql")))
    assert.isTrue(fs.existsSync(path.join(installed, "migrations", "pg", "0001_reference_schema.sql")))
    for (const file of ["index.html", "app.js", "style.css"]) {
      assert.isTrue(fs.existsSync(path.join(installed, "dist", "http", "console", file)), `the web console's ${file} ships`)
    }
    assert.isFalse(fs.existsSync(path.join(installed, "src")))
    assert.isFalse(fs.existsSync(path.join(installed, "test")))
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
      listed: 1,
      created_at_is_text: true,
      event_types: ["capability_action", "system"]
    })
  })

  it("R17 the bin ai-jobs is the built CLI with its shebang, and it runs from the package", async () => {
    assert.strictEqual(manifest.bin["ai-jobs"], "./dist/cli/main.js")
    const bin = path.join(installed, "dist", "cli", "main.js")
    assert.isTrue(fs.readFileSync(bin, "utf8").startsWith("#!/usr/bin/env node\n"))
    const version = await run(process.execPath, [bin, "--version"], project)
    assert.strictEqual(version.code, 0, version.stderr)
    assert.strictEqual(version.stdout.trim(), `v${manifest.version}`)
    // The migrations ship beside dist/, and the built CLI finds them.
    const migrate = await run(process.execPath, [bin, "migrate", "--database", path.join(project, "data", "jobs.db")], project)
    assert.strictEqual(migrate.code, 0, migrate.stderr)
    assert.match(migrate.stdout, /is migrated/)
  })
})
