/** The default trace, as a layer: records nothing (for resetting a trace a parent context set). */
import { Layer } from "effect"
import { Trace, traceOff } from "../../services/Trace.ts"

export const layer: Layer.Layer<never> = Layer.succeed(Trace, traceOff)
