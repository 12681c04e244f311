/**
 * Traces and replay (`effect-lightning/trace`): record a node's inputs and outputs
 * (`makeRecording`, the wrappers of `src/layers/trace/`), rebuild the node from its trace and
 * check it reproduces it (`replayTrace`). See ARCHITECTURE.md, "Trace and replay".
 */
export * from "../services/Trace.ts"
export * from "./node.ts"
export * from "./Quiescence.ts"
export * from "./record.ts"
export * from "./replay.ts"
export * as ChainTrace from "../layers/trace/ChainTrace.ts"
export * as FileTrace from "../layers/trace/FileTrace.ts"
export * as MemoryTrace from "../layers/trace/MemoryTrace.ts"
export * as OffTrace from "../layers/trace/OffTrace.ts"
export * as Recording from "../layers/trace/Recording.ts"
export * as Replay from "../layers/trace/Replay.ts"
