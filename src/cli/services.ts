/** The library's services as the CLI runs them: Jobs over a store, with a recorder, the default capabilities and a recovery gate. */
import * as Layer from "effect/Layer"
import * as Capabilities from "../Capabilities.js"
import * as FlightRecorder from "../FlightRecorder.js"
import * as Jobs from "../Jobs.js"
import type * as Recovery from "../Recovery.js"
import type { JobStore } from "../store/JobStore.js"
import * as WakeUp from "../WakeUp.js"

/** Jobs over the store in context; `gate` decides whether startup recovery runs first. A command runs no worker: no wake-up to listen for. */
export const services = (gate: Layer.Layer<Recovery.RecoveryGate, never, JobStore | FlightRecorder.FlightRecorder>) =>
  Jobs.layer().pipe(
    Layer.provideMerge(gate),
    Layer.provideMerge(WakeUp.layerPollOnly),
    Layer.provideMerge(FlightRecorder.layer()),
    Layer.provideMerge(Capabilities.layerDefault)
  )
