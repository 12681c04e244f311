/**
 * Claim (sweep) transactions of BOLT 5: one input spending one output of a commitment (or of
 * an HTLC-success / HTLC-timeout transaction) by the path we hold, one output paying our sweep
 * script. Used for our `to_local` after `to_self_delay`, our second-stage HTLC outputs, our
 * `to_remote` and HTLCs on the counterparty's commitment (preimage or timeout), and every
 * penalty (justice) spend of a revoked commitment (BOLT 5 "Revoked Transaction Close Handling":
 * one transaction per revoked output, which BOLT 5 asks for near the deadline with anchors and
 * allows always).
 *
 * The fee is computed from the transaction's real weight with a maximum-size (73-byte)
 * signature in place, so a transaction signed later never weighs more than it was priced at.
 */
import { Data, Result } from "effect"
import type { PublicKey } from "../keys/keys.ts"
import { sat, type Sat } from "../units.ts"
import { encodeTxSignature } from "./bitcoin/der.ts"
import { SIGHASH_ALL } from "./bitcoin/sighash.ts"
import { makeInput, setWitness, weight, type OutPoint, type Transaction } from "./bitcoin/transaction.ts"
import { MAX_SIGNATURE_SIZE } from "./weights.ts"
import type { Witness } from "./witness.ts"

const EMPTY = new Uint8Array(0)
const ONE = Uint8Array.of(1)

/**
 * How the claimed output is spent, which decides the witness (BOLT 3 "Commitment Transaction
 * Outputs", "HTLC-Timeout and HTLC-Success Transactions"):
 * - `Delayed`: `to_local` / second-stage output after the CSV delay: `<sig> <>`;
 * - `Revocation`: `to_local` / second-stage output of a revoked state: `<revocation_sig> 1`;
 * - `RevokedHtlc`: an HTLC output of a revoked commitment: `<revocation_sig> <revocationpubkey>`;
 * - `Preimage`: an HTLC offered to us on their commitment: `<sig> <payment_preimage>`;
 * - `Timeout`: an HTLC we offered, on their commitment, after `cltv_expiry`: `<sig> <>`;
 * - `ToRemoteP2wpkh`: legacy `to_remote`: `<sig> <pubkey>`; `ToRemoteAnchors`: `<sig>` (CSV 1).
 */
export type ClaimWitness =
  | { readonly _tag: "Delayed" }
  | { readonly _tag: "Revocation" }
  | { readonly _tag: "RevokedHtlc"; readonly revocationPubkey: PublicKey }
  | { readonly _tag: "Preimage"; readonly preimage: Uint8Array }
  | { readonly _tag: "Timeout" }
  | { readonly _tag: "ToRemoteP2wpkh"; readonly pubkey: PublicKey }
  | { readonly _tag: "ToRemoteAnchors" }

/** The output a claim spends and how. */
export interface ClaimInput {
  readonly outpoint: OutPoint
  readonly amount: Sat
  /** nSequence: the CSV delay, 1 for anchors outputs, else 0xfffffffd (RBF signalling). */
  readonly sequence: number
  /** nLockTime: `cltv_expiry` for a timeout claim, else 0. */
  readonly locktime: number
  /** The P2WSH witness script (undefined for the legacy P2WPKH `to_remote`). */
  readonly witnessScript: Uint8Array | undefined
  readonly witness: ClaimWitness
}

/** A claim whose output would be dust after its fee (or whose input is malformed). */
export class ClaimTooSmall extends Data.TaggedError("ClaimTooSmall")<{ readonly amount: Sat; readonly fee: Sat }> {}

/** Below this a P2WSH/P2WPKH output is non-standard dust at any reasonable relay fee. */
export const CLAIM_DUST_LIMIT: Sat = sat(330n)

/** The witness stack of a claim given its compact signature (64 bytes, SIGHASH_ALL). */
export const claimWitness = (input: ClaimInput, signature: Uint8Array): Witness => {
  const sig = signature.length === 64 ? encodeTxSignature(signature, SIGHASH_ALL) : signature
  const script = input.witnessScript ?? EMPTY
  switch (input.witness._tag) {
    case "Delayed":
      return [sig, EMPTY, script]
    case "Revocation":
      return [sig, ONE, script]
    case "RevokedHtlc":
      return [sig, input.witness.revocationPubkey, script]
    case "Preimage":
      return [sig, input.witness.preimage, script]
    case "Timeout":
      return [sig, EMPTY, script]
    case "ToRemoteP2wpkh":
      return [sig, input.witness.pubkey]
    case "ToRemoteAnchors":
      return [sig, script]
  }
}

const unsignedClaim = (input: ClaimInput, outputScript: Uint8Array, value: bigint): Transaction => ({
  version: 2,
  inputs: [makeInput(input.outpoint, input.sequence)],
  outputs: [{ value: sat(value), scriptPubKey: outputScript }],
  locktime: input.locktime
})

/** The weight of the claim once signed (a 73-byte signature assumed: the largest). */
export const expectedClaimWeight = (input: ClaimInput, outputScript: Uint8Array): number =>
  weight(setWitness(unsignedClaim(input, outputScript, input.amount), 0, claimWitness(input, new Uint8Array(MAX_SIGNATURE_SIZE))))

/**
 * The unsigned claim paying `input.amount - fee` to `outputScript`, the fee being
 * `feeratePerKw` over the expected weight (rounded up). Fails with `ClaimTooSmall` when what
 * is left is below `CLAIM_DUST_LIMIT`.
 */
export const buildClaimTransaction = (
  input: ClaimInput,
  outputScript: Uint8Array,
  feeratePerKw: number
): Result.Result<{ readonly tx: Transaction; readonly fee: Sat }, ClaimTooSmall> => {
  const w = expectedClaimWeight(input, outputScript)
  const fee = sat((BigInt(Math.max(0, Math.ceil(feeratePerKw))) * BigInt(w) + 999n) / 1000n)
  if (input.amount - fee < CLAIM_DUST_LIMIT) return Result.fail(new ClaimTooSmall({ amount: input.amount, fee }))
  return Result.succeed({ tx: unsignedClaim(input, outputScript, input.amount - fee), fee })
}

/** The claim with its witness (the signature is the signer's compact one, SIGHASH_ALL). */
export const finalizeClaim = (tx: Transaction, input: ClaimInput, signature: Uint8Array): Transaction =>
  setWitness(tx, 0, claimWitness(input, signature))
