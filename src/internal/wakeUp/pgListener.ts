/**
 * LISTEN on a connection of its own. `LISTEN` needs a session: through
 * PgBouncer in transaction mode a notification would go to whichever client
 * holds the server connection next, so the listener connects to a URL of its
 * own (straight to the server, or a session-mode pool).
 *
 * A listener that loses its connection says "look again" (announcements made
 * meanwhile are lost), waits, connects again and says it once more when it
 * listens again. It never fails: polling covers the gaps. The wait is real
 * time (a network matter): a `TestClock` never stalls a reconnection.
 *
 * Its client reads the URL's timeouts as the store's pool does
 * (store/pg/clientTimeouts.ts): a connect that never answers ends after the
 * connect timeout, and a URL's `statement_timeout` reaches the server clamped.
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Pg from "pg"
import type { ClientTimeouts } from "../../store/pg/clientTimeouts.js"
import { NO_IDLE_SESSION_TIMEOUT } from "../../store/pg/sessionSettings.js"
import { sleepRealTime } from "../../util/sleepRealTime.js"
import { fromPayload, lookAgain, type Signal } from "./signal.js"

/** The channel migration 0007's trigger announces jobs on. */
export const CHANNEL = "ai_job_model_jobs"

export interface ListenerOptions {
  /** The listen URL without its timeouts, and the timeouts as `pg` settings. */
  readonly connection: ClientTimeouts
  /** Told of every signal, synchronously: a notification reaches the waiters with no fiber started for it. */
  readonly emit: (signal: Signal) => void
  /** Completed once the first LISTEN is in place. */
  readonly listening: Deferred.Deferred<void>
  /** Wait before connecting again after the connection was lost. */
  readonly reconnectDelay: Duration.Duration
}

/** One connection's life: connect, LISTEN, emit until the connection fails. Fails with why it ended. */
const session = (options: ListenerOptions) =>
  Effect.async<never, Error>((resume) => {
    const { settings, url } = options.connection
    const client = new Pg.Client({ connectionString: url, ...settings, application_name: "ai-job-model listener" })
    let ended = false
    const end = (error: Error) => {
      if (ended) return
      ended = true
      resume(Effect.fail(error))
    }
    client.on("notification", (message) => {
      if (message.channel === CHANNEL) options.emit(fromPayload(message.payload ?? ""))
    })
    client.on("error", end)
    client.on("end", () => end(new Error("the listener's connection ended")))
    client.connect()
      // Idle between notifications by design: a role's idle_session_timeout would end it every few seconds.
      .then(() => client.query(`${NO_IDLE_SESSION_TIMEOUT}; LISTEN ${Pg.escapeIdentifier(CHANNEL)}`))
      .then(() => {
        options.emit(lookAgain)
        Effect.runFork(Deferred.succeed(options.listening, undefined))
      })
      .catch(end)
    return Effect.sync(() => {
      ended = true
      client.removeAllListeners("end")
      client.on("error", () => {})
      void client.end().catch(() => {})
    })
  })

/** Listens for as long as the calling fiber runs, reconnecting after each loss. */
export const listen = (options: ListenerOptions): Effect.Effect<never> =>
  Effect.forever(
    session(options).pipe(
      Effect.catchAll((error) =>
        Effect.zipRight(
          Effect.logWarning(`wake-up listener: ${error.message}; polling until it listens again`),
          Effect.zipRight(Effect.sync(() => options.emit(lookAgain)), sleepRealTime(Duration.toMillis(options.reconnectDelay)))
        ))
    )
  )
