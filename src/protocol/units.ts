/**
 * Branded amounts and identifiers. An msat is never a sat: the brand makes the compiler say so.
 * Amounts are bigint (u64 on the wire); the brand carries no runtime cost.
 */
import type { Brand } from "effect"

/** Millisatoshis (BOLT 2/4/11 amounts). */
export type Msat = bigint & Brand.Brand<"Msat">
/** Satoshis (BOLT 3 on-chain amounts). */
export type Sat = bigint & Brand.Brand<"Sat">

export const msat = (value: bigint): Msat => value as Msat
export const sat = (value: bigint): Sat => value as Sat
export const satToMsat = (value: Sat): Msat => msat(value * 1000n)
/** Rounds down, as BOLT 3 does when an msat balance becomes an output. */
export const msatToSat = (value: Msat): Sat => sat(value / 1000n)

/** A 33-byte compressed secp256k1 public key identifying a node (BOLT 1/8). */
export type NodeId = Uint8Array & Brand.Brand<"NodeId">
/** A 32-byte channel id (BOLT 2). */
export type ChannelId = Uint8Array & Brand.Brand<"ChannelId">
