/**
 * Channel types (BOLT 2 "Defined Channel Types") as descriptors carrying everything BOLT 3
 * varies per type: expected weights, HTLC transaction fees and sequence, the sighash the
 * peer uses on HTLC transactions, anchors, and the output scripts. The transaction builders
 * read only this descriptor, so a further type (e.g. `option_simple_taproot`, whose outputs
 * are P2TR with tapscript leaves) is a new descriptor with its own `scripts`, not a rewrite.
 */
import type { CommitmentKeys } from "./keys/commitment-keys.ts"
import type { PublicKey } from "./keys/keys.ts"
import { p2wpkhScript, p2wshScript } from "./tx/bitcoin/script.ts"
import { SIGHASH_ALL, SIGHASH_SINGLE_ANYONECANPAY, type SighashType } from "./tx/bitcoin/sighash.ts"
import {
  anchorScript,
  fundingScript,
  htlcOutputScript,
  offeredHtlcScript,
  receivedHtlcScript,
  toLocalScript,
  toRemoteAnchorsScript,
  type ScriptArena
} from "./tx/scripts.ts"
import { sat, type Sat } from "./units.ts"

/** An output to create: its scriptPubKey and, for P2WSH, the witness script that spends it. */
export interface OutputSpec {
  readonly scriptPubKey: Uint8Array
  /** The P2WSH witness script; undefined for a key-hash output (legacy to_remote P2WPKH). */
  readonly witnessScript: Uint8Array | undefined
}

export interface CommitmentScripts {
  /** The funding output (P2WSH 2-of-2 here; a MuSig2 key-path P2TR for a taproot type). */
  readonly funding: (localFundingPubkey: PublicKey, remoteFundingPubkey: PublicKey) => OutputSpec
  /**
   * `into`, when given, is where the builder wants the witness scripts of one commitment written
   * (`ScriptArena`: one buffer for all); a type may ignore it.
   */
  readonly toLocal: (keys: CommitmentKeys, toSelfDelay: number, into?: ScriptArena) => OutputSpec
  readonly toRemote: (keys: CommitmentKeys) => OutputSpec
  readonly offeredHtlc: (keys: CommitmentKeys, paymentHash: Uint8Array, into?: ScriptArena) => OutputSpec
  readonly receivedHtlc: (keys: CommitmentKeys, paymentHash: Uint8Array, cltvExpiry: number, into?: ScriptArena) => OutputSpec
  readonly anchor: (fundingPubkey: PublicKey) => OutputSpec
  /** The output of an HTLC-success / HTLC-timeout transaction. */
  readonly htlcTxOutput: (keys: CommitmentKeys, toSelfDelay: number) => OutputSpec
}

export type ChannelTypeName = "static_remote_key" | "anchors_zero_fee_htlc_tx"

export interface ChannelType {
  readonly name: ChannelTypeName
  /** The even feature bits of the BOLT 2 `channel_type`. */
  readonly featureBits: ReadonlyArray<number>
  readonly anchors: boolean
  /**
   * Witness version of the channel's outputs. Signing (signing.ts) uses BIP 143 for version 0;
   * a taproot type (version 1) brings BIP 341 sighashes and MuSig2 funding signatures there.
   */
  readonly witnessVersion: 0
  /** Commitment expected weight = base + perHtlc * untrimmed HTLC outputs (BOLT 3 "Fee Calculation"). */
  readonly commitmentBaseWeight: number
  readonly commitmentWeightPerHtlc: number
  readonly htlcTimeoutWeight: number
  readonly htlcSuccessWeight: number
  /** HTLC transactions pay no fee (anchors_zero_fee_htlc_tx): fees come from added inputs. */
  readonly zeroFeeHtlcTx: boolean
  /** Each anchor output's value; 0 when the type has no anchors. */
  readonly anchorAmount: Sat
  /** nSequence of the HTLC transaction input (and of any spend of an HTLC output). */
  readonly htlcInputSequence: number
  /** nSequence needed to spend `to_remote` (1 with anchors: the 1-block CSV). */
  readonly toRemoteSequence: number
  /** Sighash of the counterparty's signature on our HTLC transactions. */
  readonly remoteHtlcSighash: SighashType
  readonly scripts: CommitmentScripts
}

const p2wsh = (witnessScript: Uint8Array): OutputSpec => ({ scriptPubKey: p2wshScript(witnessScript), witnessScript })

const segwitV0Scripts = (anchors: boolean): CommitmentScripts => ({
  funding: (a, b) => p2wsh(fundingScript(a, b)),
  toLocal: (keys, delay, into) => p2wsh(toLocalScript(keys.revocationPubkey, delay, keys.localDelayedPubkey, into)),
  toRemote: (keys) =>
    anchors
      ? p2wsh(toRemoteAnchorsScript(keys.remotePaymentPubkey))
      : { scriptPubKey: p2wpkhScript(keys.remotePaymentPubkey), witnessScript: undefined },
  offeredHtlc: (keys, hash, into) => p2wsh(offeredHtlcScript(keys, hash, anchors, into)),
  receivedHtlc: (keys, hash, cltv, into) => p2wsh(receivedHtlcScript(keys, hash, cltv, anchors, into)),
  anchor: (fundingPubkey) => p2wsh(anchorScript(fundingPubkey)),
  htlcTxOutput: (keys, delay) => p2wsh(htlcOutputScript(keys.revocationPubkey, delay, keys.localDelayedPubkey))
})

/** `option_static_remotekey` (bit 12): to_remote is P2WPKH, HTLC transactions pay their fee. */
export const staticRemoteKey: ChannelType = {
  name: "static_remote_key",
  featureBits: [12],
  anchors: false,
  witnessVersion: 0,
  commitmentBaseWeight: 724,
  commitmentWeightPerHtlc: 172,
  htlcTimeoutWeight: 663,
  htlcSuccessWeight: 703,
  zeroFeeHtlcTx: false,
  anchorAmount: sat(0n),
  htlcInputSequence: 0,
  toRemoteSequence: 0xffffffff,
  remoteHtlcSighash: SIGHASH_ALL,
  scripts: segwitV0Scripts(false)
}

/** `option_anchors` + `option_static_remotekey` (bits 22, 12): two 330-sat anchors, zero-fee HTLC txs. */
export const anchorsZeroFeeHtlcTx: ChannelType = {
  name: "anchors_zero_fee_htlc_tx",
  featureBits: [12, 22],
  anchors: true,
  witnessVersion: 0,
  commitmentBaseWeight: 1124,
  commitmentWeightPerHtlc: 172,
  htlcTimeoutWeight: 666,
  htlcSuccessWeight: 706,
  zeroFeeHtlcTx: true,
  anchorAmount: sat(330n),
  htlcInputSequence: 1,
  toRemoteSequence: 1,
  remoteHtlcSighash: SIGHASH_SINGLE_ANYONECANPAY,
  scripts: segwitV0Scripts(true)
}

export const channelTypes: ReadonlyArray<ChannelType> = [staticRemoteKey, anchorsZeroFeeHtlcTx]

/** Variations BOLT 2 allows on every basic type; they do not change transactions. */
export const CHANNEL_TYPE_VARIATION_BITS: ReadonlyArray<number> = [46, 50] // option_scid_alias, option_zeroconf

/**
 * The descriptor for the even feature bits of a `channel_type`, if it is a supported basic
 * type (variation bits ignored); undefined otherwise (e.g. unknown or legacy types).
 */
export const channelTypeFromBits = (bits: ReadonlyArray<number>): ChannelType | undefined => {
  const wanted = [...new Set(bits)].filter((b) => !CHANNEL_TYPE_VARIATION_BITS.includes(b)).sort((a, b) => a - b)
  return channelTypes.find((t) => {
    const have = [...t.featureBits].sort((a, b) => a - b)
    return have.length === wanted.length && have.every((b, i) => b === wanted[i])
  })
}
