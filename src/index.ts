/**
 * effect-lightning: public entry point. Re-exports the protocol core, the service keys,
 * the actors and the layers; see ../docs/architecture.md (shared) for the map.
 */
export * as Bytes from "./protocol/bytes.ts"
export * as Units from "./protocol/units.ts"
