/**
 * How big the reliability campaign is. The bounded form runs in `npm test`;
 * `HSK_SOAK=1` scales every count up for the long form (`npm run soak`).
 * `HSK_RELIABILITY_SEED` replays a campaign: every random choice the tests
 * make (crash points, generated inputs) derives from it.
 */

/** True for the long form. The bounded form always runs; the variable only scales it. */
export const soak: boolean = ["1", "true", "yes"].includes((process.env["HSK_SOAK"] ?? "").toLowerCase())

const fromEnv = (name: string): number | undefined => {
  const text = process.env[name]
  if (text === undefined || text.trim() === "") return undefined
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(text)}`)
  return n
}

/** The campaign's seed: given, or fresh (and printed, so a failure can be replayed). */
export const seed: number = fromEnv("HSK_RELIABILITY_SEED") ?? Math.floor(Math.random() * 2 ** 31)

/** The counts, bounded (CI) or soak. */
export const counts = {
  /** SIGKILLs of the crash worker per dialect (≥ 50 in CI across both; ≥ 1,000 in the soak). */
  crashesPerDialect: fromEnv("HSK_CRASHES") ?? (soak ? 520 : 26),
  /** SIGTERMs of a busy worker process per dialect (graceful shutdown). */
  shutdownsPerDialect: fromEnv("HSK_SHUTDOWNS") ?? (soak ? 30 : 3),
  /** How long the four concurrent PostgreSQL processes work, in ms. */
  concurrencyMs: soak ? 90_000 : 8_000,
  /** Generated inputs per public decoder. */
  decoderInputs: soak ? 100_000 : 10_000,
  /** Generated submits and records per store (each may write). */
  writeInputs: soak ? 10_000 : 600,
  /** CLI argument vectors parsed in-process. */
  cliArgvs: soak ? 100_000 : 10_000,
  /** CLI argument vectors run as real subprocesses. */
  cliProcesses: soak ? 200 : 12,
  /** Recovery scans a heartbeating run must survive. */
  recoveryScans: soak ? 60 : 10
} as const

/** A derived seed for one part of the campaign, so parts do not share a sequence. */
export const seedFor = (part: string): number => {
  let h = seed ^ 0x9e3779b9
  for (let i = 0; i < part.length; i++) h = Math.imul(h ^ part.charCodeAt(i), 0x85ebca6b) >>> 0
  return h >>> 1
}

/** Timeout for a test that runs `n` crash cycles or similar, in ms. */
export const budgetMs = (perUnitMs: number, units: number, fixedMs = 30_000): number => fixedMs + perUnitMs * units
