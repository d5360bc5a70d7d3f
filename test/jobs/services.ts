/** The application's layers over a given store, as a user would compose them. */
import * as Layer from "effect/Layer"
import * as Capabilities from "../../src/Capabilities.js"
import * as FlightRecorder from "../../src/FlightRecorder.js"
import * as Jobs from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import type { JobStore } from "../../src/store/JobStore.js"

/** Jobs with the default capabilities and recorder; the gate open unless one is given. */
export const services = <E>(
  store: Layer.Layer<JobStore, E>,
  gate: Layer.Layer<Recovery.RecoveryGate, never, JobStore | FlightRecorder.FlightRecorder> = Recovery.layerNoStartupRecovery
) =>
  Jobs.layer.pipe(
    Layer.provideMerge(gate),
    Layer.provideMerge(FlightRecorder.layer()),
    Layer.provideMerge(Capabilities.layerDefault),
    Layer.provideMerge(store)
  )
