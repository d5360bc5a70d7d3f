/**
 * Whose code an on-CPU profile's samples are in (issue 16): reads `perf
 * script` output of a node process run with `--perf-basic-prof` (and
 * `--interpreted-frames-native-stack`, so interpreted frames have names) and
 * charges each sample to the innermost JavaScript frame on its stack — V8's
 * builtins (property loads, calls, closures' first calls) to the code that
 * called them — by owner: the Effect runtime, the pg driver, our store, the
 * rest of our source, node's own JavaScript. Samples with no JavaScript frame
 * are the kernel (socket writes and reads), the garbage collector, V8's
 * optimizing compiler or libuv. Unlike the V8 sampler (bench/cpuProfile.ts),
 * whose wall-clock samples count a preempted `writev` as busy, perf counts
 * CPU only. Not part of `npm run bench`.
 *
 *   bench/lifecycleLoop.ts prints "warm: pid N"; then
 *   perf record -F 1999 -g -p N -o loop.data
 *   perf script -i loop.data -F comm,tid,ip,sym,dso > loop.txt
 *   npx tsx bench/perfOwners.ts loop.txt [files]
 *
 * With `files`, also the innermost frame's file for our own source.
 */
import * as fs from "node:fs"
import * as readline from "node:readline"

const ownerOfJs = (frame: string): string => {
  if (/\/src\/store\//.test(frame)) return "JS: our store (src/store)"
  if (/\/src\//.test(frame)) return "JS: our Jobs layer, Flight Recorder, domain (src/ but store)"
  if (frame.includes("/node_modules/effect/")) return "JS: effect runtime and library"
  if (frame.includes("@effect/sql")) return "JS: @effect/sql"
  if (/node_modules\/(pg|pg-protocol|pg-types|postgres-[a-z]+)\//.test(frame)) return "JS: pg driver"
  if (/\/bench\//.test(frame)) return "JS: the benchmark's loop"
  if (frame.includes("node:")) return "JS: node internals (streams, sockets, timers)"
  return "JS: other"
}

/** The owner of one sample, its frames innermost first. */
const ownerOf = (frames: ReadonlyArray<string>): { readonly owner: string; readonly file?: string } => {
  if (frames[0]?.includes("[kernel.kallsyms]")) return { owner: "kernel (syscalls: socket writes and reads, epoll, scheduling)" }
  for (const frame of frames) {
    if (/Scaveng|MarkCompact|ConcurrentMarking|Sweeper|Heap::|GCTracer|MinorMC/.test(frame)) return { owner: "garbage collector" }
    if (/OptimizingCompileDispatcher|compiler::|Maglev/.test(frame)) return { owner: "V8 optimizing compiler" }
    if (frame.includes(" JS:") || frame.includes(" RegExp:")) {
      const file = /\/((?:src|bench)\/[^:\s]+)/.exec(frame)?.[1]
      return { owner: ownerOfJs(frame), ...(file !== undefined ? { file } : {}) }
    }
  }
  return { owner: "native, no JavaScript frame (libuv, node)" }
}

const main = async () => {
  const [file, files] = process.argv.slice(2)
  if (file === undefined) throw new Error("usage: perfOwners.ts <perf script output> [files]")
  const owners = new Map<string, number>()
  const ourFiles = new Map<string, number>()
  let total = 0
  let frames: Array<string> = []
  const flush = () => {
    if (frames.length === 0) return
    const { file: at, owner } = ownerOf(frames)
    owners.set(owner, (owners.get(owner) ?? 0) + 1)
    if (at !== undefined && at.startsWith("src/")) ourFiles.set(at, (ourFiles.get(at) ?? 0) + 1)
    total++
    frames = []
  }
  // A sample: a header line (comm, tid), then one indented line per frame, innermost first.
  for await (const line of readline.createInterface({ input: fs.createReadStream(file) })) {
    if (line.trim() === "") continue
    if (/^\s/.test(line)) frames.push(line.trim())
    else flush()
  }
  flush()
  const table = (title: string, counts: Map<string, number>, rows: number) => {
    console.log(`\n### ${title} (${total} samples)`)
    for (const [key, n] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, rows)) {
      console.log(`${(100 * n / total).toFixed(1).padStart(5)}%  ${key}`)
    }
  }
  table("samples by owner of the innermost JavaScript frame", owners, 20)
  if (files !== undefined) table("our source, by file of the innermost frame", ourFiles, 30)
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
