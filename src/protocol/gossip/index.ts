/**
 * BOLT 7 gossip, the pure part: encoded lists of the queries, the receive rules (stateless in
 * `validate.ts`, against the graph's facts in `rules.ts`), what signatures and checksums cover,
 * signing our own announcements, the funding output check, and the typed errors.
 */
export * from "./crc32c.ts"
export * from "./digest.ts"
export * from "./encoding.ts"
export * from "./errors.ts"
export * from "./funding.ts"
export * from "./own.ts"
export * from "./rules.ts"
export * from "./sign.ts"
export * from "./validate.ts"
export type * from "./views.ts"
