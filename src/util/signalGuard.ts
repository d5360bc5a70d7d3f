/**
 * SIGINT and SIGTERM kept handled for the whole of a stop. `NodeRuntime.runMain`
 * interrupts its program on the first and then removes its listeners, so the
 * next one met Node's default action and killed the process at once, half way
 * through what the first began (a CLI command's change, a worker pool's drain
 * and release). Repeated signals are common: a group signal (systemd's default
 * `KillMode=control-group`, a terminal's Ctrl-C) reaches node both directly and
 * relayed by `npx tsx`, and an impatient operator presses Ctrl-C twice.
 */

/** The listeners a guard installed. */
export interface SignalGuard {
  /** The first SIGINT or SIGTERM received, if one has come. */
  readonly first: () => NodeJS.Signals | undefined
  /** Removes the guard's listeners (once the stop is over). */
  readonly remove: () => void
}

const STOP_SIGNALS = ["SIGINT", "SIGTERM"] as const

/** 128 + the signal's number, as a shell reports a process the signal ended: 130 for SIGINT, 143 for SIGTERM. */
export const signalExitCode = (signal: NodeJS.Signals): 130 | 143 => signal === "SIGTERM" ? 143 : 130

/**
 * Listens to SIGINT and SIGTERM until removed: the first is noted and given to
 * `onFirst` (the caller's runtime acts on it), each later one goes to
 * `onLater`. While the guard is installed no signal ends the process by
 * Node's default action.
 */
export const guardSignals = (onLater: (signal: NodeJS.Signals) => void, onFirst?: (signal: NodeJS.Signals) => void): SignalGuard => {
  let first: NodeJS.Signals | undefined
  const listener = (signal: NodeJS.Signals) => {
    if (first !== undefined) return onLater(signal)
    first = signal
    onFirst?.(signal)
  }
  for (const signal of STOP_SIGNALS) process.on(signal, listener)
  return {
    first: () => first,
    remove: () => {
      for (const signal of STOP_SIGNALS) process.removeListener(signal, listener)
    }
  }
}
