/** `Store` layers: in memory (tests, simulation) and files in one directory (atomic, fsync'd, grouped). */
export * from "./MemoryStore.ts"
export * from "./FileStore.ts"
export * from "./StoreDisk.ts"
export * from "./SimulatedDisk.ts"
