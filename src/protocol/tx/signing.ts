/**
 * Signing and verifying BOLT 3 transactions with a `Secp256k1`: signature digests (BIP 143),
 * RFC 6979 compact signatures (the 64-byte form BOLT 2 messages carry), and completing the
 * commitment and HTLC transactions with their witnesses. Keys are `PrivateKey` (Redacted) and
 * are unwrapped only for the signing call.
 */
import { sha256 } from "./bitcoin/hash.ts"
import { Redacted, Result } from "effect"
import { equalBytes } from "../bytes.ts"
import { CompactSignature, type Secp256k1 } from "../crypto/secp256k1.ts"
import type { PrivateKey, PublicKey } from "../keys/keys.ts"
import type { Sat } from "../units.ts"
import { encodeTxSignature } from "./bitcoin/der.ts"
import { SIGHASH_ALL, segwitV0Sighash, type SighashType } from "./bitcoin/sighash.ts"
import { setWitness, type Transaction } from "./bitcoin/transaction.ts"
import type { CommitmentHtlc, CommitmentTransaction } from "./commitment.ts"
import { cachedCommitmentDigest, cachedHtlcDigest } from "./commitment-builds.ts"
import { HtlcTransactionError, type HtlcTransaction } from "./htlc.ts"
import { FUNDING_SCRIPT_SIZE, fundingScript, writeFundingScript } from "./scripts.ts"
import { sharedVerifiedSignatures } from "./verified-signatures.ts"
import { fundingWitness, htlcSuccessWitness, htlcTimeoutWitness } from "./witness.ts"

/** The input being signed: which input, the script it commits to (BIP 143 scriptCode) and the amount spent. */
export interface InputToSign {
  readonly tx: Transaction
  readonly index: number
  readonly scriptCode: Uint8Array
  readonly amount: Sat
}

export const inputSighash = (input: InputToSign, sighashType: SighashType): Uint8Array =>
  segwitV0Sighash(input.tx, input.index, input.scriptCode, input.amount, sighashType)

/**
 * What a curve that signs without its digest (`Secp256k1.signsWithoutDigest`: the insecure test
 * curve) is given to sign: 32 zero bytes, in place of a BIP 143 preimage built and hashed for nothing.
 */
export const NO_DIGEST: Uint8Array = new Uint8Array(32)

/** Whether `secp` signs and verifies without reading the digest: `NO_DIGEST` then stands for every sighash here. */
export const skipsDigest = (secp: Secp256k1): boolean => secp.signsWithoutDigest === true

/** Compact 64-byte low-S signature of the input's BIP 143 digest. */
export const signInput = (secp: Secp256k1, input: InputToSign, sighashType: SighashType, key: PrivateKey): CompactSignature =>
  CompactSignature(secp.sign(skipsDigest(secp) ? NO_DIGEST : inputSighash(input, sighashType), Redacted.value(key)))

/**
 * Whether `signature` by `pubkey` signs the input's digest. Successes are remembered in
 * `sharedVerifiedSignatures` (tx/verified-signatures.ts): the same signature checked again (the
 * signer validating a commitment the reducer already checked) is a lookup.
 */
export const verifyInput = (
  secp: Secp256k1,
  input: InputToSign,
  sighashType: SighashType,
  signature: Uint8Array,
  pubkey: PublicKey
): boolean => sharedVerifiedSignatures.verify(secp, signature, skipsDigest(secp) ? NO_DIGEST : inputSighash(input, sighashType), pubkey)

/**
 * Input 0 of a transaction spending the funding output (commitment or closing transaction),
 * as both funding keys sign it.
 */
export const fundingSpendInput = (tx: Transaction, fundingAmount: Sat, localFundingPubkey: PublicKey, remoteFundingPubkey: PublicKey): InputToSign => ({
  tx,
  index: 0,
  scriptCode: fundingScript(localFundingPubkey, remoteFundingPubkey),
  amount: fundingAmount
})

/** Adds the 2-of-2 witness (both compact signatures, SIGHASH_ALL) to a funding spend. */
export const finalizeFundingSpend = (
  tx: Transaction,
  localSignature: Uint8Array,
  remoteSignature: Uint8Array,
  localFundingPubkey: PublicKey,
  remoteFundingPubkey: PublicKey
): Transaction =>
  setWitness(
    tx,
    0,
    fundingWitness(
      encodeTxSignature(localSignature, SIGHASH_ALL),
      encodeTxSignature(remoteSignature, SIGHASH_ALL),
      localFundingPubkey,
      remoteFundingPubkey,
      fundingScript(localFundingPubkey, remoteFundingPubkey)
    )
  )

/** The commitment's funding input, as both funding keys sign it (SIGHASH_ALL). */
export const commitmentInput = (commitment: CommitmentTransaction<CommitmentHtlc>): InputToSign =>
  fundingSpendInput(commitment.tx, commitment.params.fundingAmount, commitment.params.localFundingPubkey, commitment.params.remoteFundingPubkey)

/**
 * The digest both funding keys sign on a commitment (SIGHASH_ALL): computed once per build
 * of the shared memo (`commitment-builds.ts`), for signing and for each verification.
 */
export const commitmentSighash = (commitment: CommitmentTransaction<CommitmentHtlc>): Uint8Array =>
  cachedCommitmentDigest(commitment, SIGHASH_ALL, () => commitmentDigest(commitment))

/**
 * The funding script of the commitment digest being made: `segwitV0Sighash` copies its scriptCode
 * into its preimage, so one buffer serves every digest (synchronous, never re-entered) instead of a
 * 71-byte array per commitment, above the 64 bytes V8 keeps on its heap.
 */
const fundingScriptCode = new Uint8Array(FUNDING_SCRIPT_SIZE)

/** `inputSighash(commitmentInput(commitment), SIGHASH_ALL)`, its scriptCode written into `fundingScriptCode` (keys of 33 bytes; every `PublicKey`). */
const commitmentDigest = (commitment: CommitmentTransaction<CommitmentHtlc>): Uint8Array => {
  const { fundingAmount, localFundingPubkey: local, remoteFundingPubkey: remote } = commitment.params
  if (local.length !== 33 || remote.length !== 33) return inputSighash(commitmentInput(commitment), SIGHASH_ALL)
  writeFundingScript(fundingScriptCode, local, remote)
  return segwitV0Sighash(commitment.tx, 0, fundingScriptCode, fundingAmount, SIGHASH_ALL)
}

export const signCommitment = (secp: Secp256k1, commitment: CommitmentTransaction<CommitmentHtlc>, fundingKey: PrivateKey): CompactSignature =>
  CompactSignature(secp.sign(skipsDigest(secp) ? NO_DIGEST : commitmentSighash(commitment), Redacted.value(fundingKey)))

export const verifyCommitmentSignature = (
  secp: Secp256k1,
  commitment: CommitmentTransaction<CommitmentHtlc>,
  signature: Uint8Array,
  fundingPubkey: PublicKey
): boolean => sharedVerifiedSignatures.verify(secp, signature, skipsDigest(secp) ? NO_DIGEST : commitmentSighash(commitment), fundingPubkey)

/** The commitment with its funding witness: both compact signatures (SIGHASH_ALL). */
export const finalizeCommitment = (
  commitment: CommitmentTransaction<CommitmentHtlc>,
  localSignature: Uint8Array,
  remoteSignature: Uint8Array
): Transaction =>
  finalizeFundingSpend(commitment.tx, localSignature, remoteSignature, commitment.params.localFundingPubkey, commitment.params.remoteFundingPubkey)

export const htlcInput = (htlcTx: HtlcTransaction<CommitmentHtlc>): InputToSign => ({
  tx: htlcTx.tx,
  index: 0,
  scriptCode: htlcTx.inputWitnessScript,
  amount: htlcTx.inputAmount
})

/** The digest of an HTLC transaction's input under `sighashType` (once per build of the shared memo). */
export const htlcSighash = (htlcTx: HtlcTransaction<CommitmentHtlc>, sighashType: SighashType): Uint8Array =>
  cachedHtlcDigest(htlcTx, sighashType, () => inputSighash(htlcInput(htlcTx), sighashType))

/**
 * The counterparty's signature on our HTLC transaction (what we send in `commitment_signed`
 * for their commitment), with the channel type's sighash.
 */
export const signHtlcAsRemote = (secp: Secp256k1, htlcTx: HtlcTransaction<CommitmentHtlc>, htlcKey: PrivateKey): CompactSignature =>
  CompactSignature(secp.sign(skipsDigest(secp) ? NO_DIGEST : htlcSighash(htlcTx, htlcTx.remoteSighash), Redacted.value(htlcKey)))

export const verifyRemoteHtlcSignature = (
  secp: Secp256k1,
  htlcTx: HtlcTransaction<CommitmentHtlc>,
  signature: Uint8Array,
  remoteHtlcPubkey: PublicKey
): boolean => sharedVerifiedSignatures.verify(secp, signature, skipsDigest(secp) ? NO_DIGEST : htlcSighash(htlcTx, htlcTx.remoteSighash), remoteHtlcPubkey)

/** The owner's own signature on its HTLC transaction: always SIGHASH_ALL (BOLT 5). */
export const signHtlcAsLocal = (secp: Secp256k1, htlcTx: HtlcTransaction<CommitmentHtlc>, htlcKey: PrivateKey): CompactSignature =>
  CompactSignature(secp.sign(skipsDigest(secp) ? NO_DIGEST : htlcSighash(htlcTx, SIGHASH_ALL), Redacted.value(htlcKey)))

/** Whether `preimage` opens the HTLC's payment hash (check before building an HTLC-success witness). */
export const preimageMatches = (htlcTx: HtlcTransaction<CommitmentHtlc>, preimage: Uint8Array): boolean =>
  preimage.length === 32 && equalBytes(sha256(preimage), htlcTx.htlc.paymentHash)

/**
 * The HTLC transaction with its witness (BOLT 3: `0 <remotehtlcsig> <localhtlcsig>
 * <payment_preimage>` for HTLC-success, `<>` in place of the preimage for HTLC-timeout).
 * HTLC-success needs the preimage of the HTLC's payment hash and HTLC-timeout takes none: any
 * other combination, or a signature that is not 64-byte compact, fails rather than yielding a
 * transaction the script would reject. The signatures are not verified here (see
 * `verifyRemoteHtlcSignature`).
 */
export const finalizeHtlcTransaction = (
  htlcTx: HtlcTransaction<CommitmentHtlc>,
  remoteSignature: Uint8Array,
  localSignature: Uint8Array,
  preimage: Uint8Array | undefined
): Result.Result<Transaction, HtlcTransactionError> => {
  const fail = (reason: string) => Result.fail(new HtlcTransactionError({ reason }))
  if (remoteSignature.length !== 64 || localSignature.length !== 64) return fail("signatures must be 64-byte compact")
  const remote = encodeTxSignature(remoteSignature, htlcTx.remoteSighash)
  const local = encodeTxSignature(localSignature, SIGHASH_ALL)
  if (htlcTx.kind === "htlc-timeout") {
    if (preimage !== undefined) return fail("HTLC-timeout takes no preimage")
    return Result.succeed(setWitness(htlcTx.tx, 0, htlcTimeoutWitness(remote, local, htlcTx.inputWitnessScript)))
  }
  if (preimage === undefined || !preimageMatches(htlcTx, preimage)) return fail("HTLC-success needs the preimage of the payment hash")
  return Result.succeed(setWitness(htlcTx.tx, 0, htlcSuccessWitness(remote, local, preimage, htlcTx.inputWitnessScript)))
}
