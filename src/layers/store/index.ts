/** `Store` layers: in memory (tests, simulation) and files in one directory (atomic, fsync'd, grouped). */
export * as MemoryStore from "./MemoryStore.ts"
export { makeMemoryStore, makeMemoryStoreData, type MemoryStoreControl, MemoryStoreControls, type MemoryStoreData } from "./MemoryStore.ts"
export * as FileStore from "./FileStore.ts"
export { decodeStoreFile, encodeStoreFile, type FileStoreOptions, LOCK_FILE, makeFileStore, type StoreFile } from "./FileStore.ts"
export * from "./StoreDisk.ts"
export * from "./SimulatedDisk.ts"
