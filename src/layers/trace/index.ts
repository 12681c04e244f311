/** Trace layers: off, memory, JSON-lines file; recording wrappers and replay services. */
export * as ChainTrace from "./ChainTrace.ts"
export * as FileTrace from "./FileTrace.ts"
export * as MemoryTrace from "./MemoryTrace.ts"
export * as OffTrace from "./OffTrace.ts"
export * as Recording from "./Recording.ts"
export * as Replay from "./Replay.ts"
