/**
 * BOLT 3 witness stacks for every spending path of the scripts in `scripts.ts`. Signatures
 * are in witness form (DER || sighash byte: see `encodeTxSignature`); the witness script is
 * the last item, as P2WSH requires. `<>` is the empty vector (MINIMALIF).
 */
import { compareBytes } from "../bytes.ts"
import type { PublicKey } from "../keys/keys.ts"

const EMPTY = new Uint8Array(0)
const ONE = Uint8Array.of(1)

export type Witness = ReadonlyArray<Uint8Array>

/** Funding 2-of-2: `0 <sig for pubkey1> <sig for pubkey2> script`, signatures in key order. */
export const fundingWitness = (
  localSig: Uint8Array,
  remoteSig: Uint8Array,
  localFundingPubkey: PublicKey,
  remoteFundingPubkey: PublicKey,
  fundingScript: Uint8Array
): Witness =>
  compareBytes(localFundingPubkey, remoteFundingPubkey) <= 0
    ? [EMPTY, localSig, remoteSig, fundingScript]
    : [EMPTY, remoteSig, localSig, fundingScript]

/** to_local (or HTLC-tx output) after `to_self_delay`: `<local_delayedsig> <>` (nSequence = to_self_delay). */
export const toLocalDelayedWitness = (localDelayedSig: Uint8Array, toLocalScript: Uint8Array): Witness => [localDelayedSig, EMPTY, toLocalScript]

/** to_local (or HTLC-tx output) of a revoked commitment: `<revocation_sig> 1`. */
export const toLocalRevocationWitness = (revocationSig: Uint8Array, toLocalScript: Uint8Array): Witness => [revocationSig, ONE, toLocalScript]

/** Second-stage HTLC output, delayed path (same script as to_local). */
export const htlcTxOutputDelayedWitness = toLocalDelayedWitness
/** Second-stage HTLC output of a revoked state (same script as to_local). */
export const htlcTxOutputRevocationWitness = toLocalRevocationWitness

/** Legacy to_remote (P2WPKH): `<sig> <remotepubkey>`. */
export const toRemoteP2wpkhWitness = (sig: Uint8Array, remotePubkey: PublicKey): Witness => [sig, remotePubkey]

/** option_anchors to_remote: `<remote_sig>` (nSequence = 1). */
export const toRemoteAnchorsWitness = (sig: Uint8Array, toRemoteScript: Uint8Array): Witness => [sig, toRemoteScript]

/** Anchor spent by its owner: `<local_sig/remote_sig>`. */
export const anchorWitness = (sig: Uint8Array, anchorScript: Uint8Array): Witness => [sig, anchorScript]

/** Anchor swept by anyone after 16 blocks: `<>` (nSequence >= 16). */
export const anchorSweepWitness = (anchorScript: Uint8Array): Witness => [EMPTY, anchorScript]

/** Offered or received HTLC output of a revoked commitment: `<revocation_sig> <revocationpubkey>`. */
export const htlcRevocationWitness = (revocationSig: Uint8Array, revocationPubkey: PublicKey, htlcScript: Uint8Array): Witness => [
  revocationSig,
  revocationPubkey,
  htlcScript
]

/** HTLC-success transaction input: `0 <remotehtlcsig> <localhtlcsig> <payment_preimage>`. */
export const htlcSuccessWitness = (remoteHtlcSig: Uint8Array, localHtlcSig: Uint8Array, preimage: Uint8Array, receivedHtlcScript: Uint8Array): Witness => [
  EMPTY,
  remoteHtlcSig,
  localHtlcSig,
  preimage,
  receivedHtlcScript
]

/** HTLC-timeout transaction input: `0 <remotehtlcsig> <localhtlcsig> <>`. */
export const htlcTimeoutWitness = (remoteHtlcSig: Uint8Array, localHtlcSig: Uint8Array, offeredHtlcScript: Uint8Array): Witness => [
  EMPTY,
  remoteHtlcSig,
  localHtlcSig,
  EMPTY,
  offeredHtlcScript
]

/**
 * The counterparty claims an HTLC offered to it, on the commitment of the side that offered
 * it, with the preimage: `<remotehtlcsig> <payment_preimage>` (nSequence 1 with anchors).
 */
export const offeredHtlcPreimageClaimWitness = (remoteHtlcSig: Uint8Array, preimage: Uint8Array, offeredHtlcScript: Uint8Array): Witness => [
  remoteHtlcSig,
  preimage,
  offeredHtlcScript
]

/**
 * The counterparty takes back an HTLC it offered, on the commitment of the side that received
 * it, after `cltv_expiry`: `<remotehtlcsig> <>` (nLockTime >= cltv_expiry; nSequence 1 with anchors).
 */
export const receivedHtlcTimeoutClaimWitness = (remoteHtlcSig: Uint8Array, receivedHtlcScript: Uint8Array): Witness => [
  remoteHtlcSig,
  EMPTY,
  receivedHtlcScript
]
