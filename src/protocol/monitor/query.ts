/**
 * What a monitor serves from its state: the pure reads a `Monitor` actor answers with, and
 * what the BOLT 5 chain reactions (`onchain.ts`) look up when a transaction spends the funding
 * output.
 */
import type { Result } from "effect"
import { sha256 } from "@noble/hashes/sha2.js"
import { equalBytes } from "../bytes.ts"
import { deriveOldSecret, indexOfCommitment, type ShachainError } from "../keys/shachain.ts"
import type { CounterpartyCommitment, HolderCommitment, MonitorState, RevokedCommitment } from "./state.ts"

/** The `updateId` the next update must carry. */
export const nextUpdateId = (state: MonitorState): bigint => state.latestUpdateId + 1n

/** Our latest commitment with the counterparty's signatures: the one we broadcast to force close. */
export const latestHolderCommitment = (state: MonitorState): HolderCommitment => state.holderCommitment

/** The counterparty's unrevoked commitments, current first: each may appear on chain. */
export const unrevokedCounterpartyCommitments = (state: MonitorState): ReadonlyArray<CounterpartyCommitment> =>
  state.counterpartyNext === undefined ? [state.counterpartyCurrent] : [state.counterpartyCurrent, state.counterpartyNext]

/** The unrevoked counterparty commitment with this txid, if any. */
export const counterpartyCommitmentByTxid = (state: MonitorState, txid: Uint8Array): CounterpartyCommitment | undefined =>
  unrevokedCounterpartyCommitments(state).find((c) => equalBytes(c.txid, txid))

/** The number of the newest counterparty commitment they revoked, or undefined before any. */
export const lastRevokedCommitmentNumber = (state: MonitorState): bigint | undefined =>
  state.counterpartySecrets.lastIndex === undefined ? undefined : indexOfCommitment(state.counterpartySecrets.lastIndex)

/** Whether their commitment `commitmentNumber` is revoked (its secret is known). */
export const isRevoked = (state: MonitorState, commitmentNumber: bigint): boolean => {
  const last = lastRevokedCommitmentNumber(state)
  return last !== undefined && commitmentNumber <= last
}

/** The per-commitment secret of their revoked commitment `commitmentNumber` (from the shachain). */
export const counterpartySecret = (state: MonitorState, commitmentNumber: bigint): Result.Result<Uint8Array, ShachainError> =>
  deriveOldSecret(state.counterpartySecrets, indexOfCommitment(commitmentNumber))

/** HTLC data of a revoked counterparty commitment, by txid (undefined if it had no HTLCs or is unknown). */
export const revokedCommitmentByTxid = (state: MonitorState, txid: Uint8Array): RevokedCommitment | undefined =>
  state.revokedCommitments.find((r) => equalBytes(r.txid, txid))

/** HTLC data of a revoked counterparty commitment, by number. */
export const revokedCommitmentByNumber = (state: MonitorState, commitmentNumber: bigint): RevokedCommitment | undefined =>
  state.revokedCommitments.find((r) => r.commitmentNumber === commitmentNumber)

/** The preimage of `paymentHash`, if known. */
export const preimageOf = (state: MonitorState, paymentHash: Uint8Array): Uint8Array | undefined =>
  state.preimages.find((p) => equalBytes(p.paymentHash, paymentHash))?.preimage

/** Checks a preimage against a hash (what a claim needs before using it). */
export const preimageMatches = (preimage: Uint8Array, paymentHash: Uint8Array): boolean => equalBytes(sha256(preimage), paymentHash)

/** Whether the channel may still change (no force close, not closed). */
export const isOpen = (state: MonitorState): boolean => state.closing._tag === "Open"
