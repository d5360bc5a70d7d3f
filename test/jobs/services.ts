/** The application's layers over a given store, as a user would compose them. */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Capabilities from "../../src/Capabilities.js"
import * as FlightRecorder from "../../src/FlightRecorder.js"
import * as Jobs from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import type { JobStore } from "../../src/store/JobStore.js"
import * as WakeUp from "../../src/WakeUp.js"

type Gate = Layer.Layer<Recovery.RecoveryGate, never, JobStore | FlightRecorder.FlightRecorder>

/** Jobs (with its options) under the given capability policy and the default recorder; the gate open and polling only unless given. */
export const servicesUnder = <E, EC>(
  capabilities: Layer.Layer<Capabilities.Capabilities, EC>,
  store: Layer.Layer<JobStore, E>,
  gate: Gate = Recovery.layerNoStartupRecovery,
  wakeUp: Layer.Layer<WakeUp.WakeUp> = WakeUp.layerPollOnly,
  options: Jobs.Options = {}
) =>
  Jobs.layer(options).pipe(
    Layer.provideMerge(gate),
    Layer.provideMerge(wakeUp),
    Layer.provideMerge(FlightRecorder.layer()),
    Layer.provideMerge(capabilities),
    Layer.provideMerge(store)
  )

/** Jobs with the default capabilities and recorder; the gate open and polling only unless given. */
export const services = <E>(
  store: Layer.Layer<JobStore, E>,
  gate: Gate = Recovery.layerNoStartupRecovery,
  wakeUp: Layer.Layer<WakeUp.WakeUp> = WakeUp.layerPollOnly,
  options: Jobs.Options = {}
) => servicesUnder(Capabilities.layerDefault, store, gate, wakeUp, options)

/**
 * The built-in policy, asked every time (not deterministic: a claim takes the
 * general path, whose records are built from the claimed job), refusing every
 * job once `refusing` is set (its profile asked as one the policy does not know).
 */
export const switchablePolicy = (refusing: { on: boolean }) =>
  Layer.effect(
    Capabilities.Capabilities,
    Effect.map(Effect.orDie(Capabilities.make(Capabilities.defaultConfig)), (policy) => ({
      ...policy,
      check: (job, requested) => policy.check(job, refusing.on ? "no-such-profile" : requested),
      deterministic: false
    }))
  )
