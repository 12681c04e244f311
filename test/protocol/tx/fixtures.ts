/**
 * Shared loading of the BOLT 3 Appendix C / F vectors into builder parameters.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Redacted, Result } from "effect"
import { readFileSync } from "node:fs"
import { fromHex } from "../../../src/protocol/bytes.ts"
import { anchorsZeroFeeHtlcTx, staticRemoteKey, type ChannelType } from "../../../src/protocol/channel-type.ts"
import { nobleSecp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import { deriveCommitmentKeys, type ChannelBasepoints, type CommitmentKeys } from "../../../src/protocol/keys/commitment-keys.ts"
import { unsafePublicKey, type PrivateKey, type PublicKey } from "../../../src/protocol/keys/keys.ts"
import { txidFromHex } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import type { ChannelView } from "../../../src/protocol/tx/view.ts"
import { commitmentNumberObscuringFactor, type CommitmentHtlc, type CommitmentParams } from "../../../src/protocol/tx/commitment.ts"
import { msat, sat } from "../../../src/protocol/units.ts"
import { VECTORS_DIR } from "../../vectors.ts"

export const VECTORS = VECTORS_DIR
export const secp = nobleSecp256k1

export interface VectorHtlc {
  readonly id: number
  readonly direction: "remote->local" | "local->remote"
  readonly amount_msat: number
  readonly expiry: number
  readonly payment_preimage: string
}

export interface HtlcTxVector {
  readonly commit_output_index: number
  readonly type: "htlc-success" | "htlc-timeout"
  readonly htlc_id: number
  readonly remote_htlc_signature: string
  readonly local_htlc_signature?: string
  readonly tx: string
}

export interface CommitmentVector {
  readonly name: string
  readonly to_local_msat: number
  readonly to_remote_msat: number
  readonly local_feerate_per_kw: number
  readonly local_dust_limit_satoshi?: number
  readonly htlc_ids: ReadonlyArray<number>
  readonly base_fee_satoshi?: number
  readonly actual_fee_satoshi?: number
  readonly outputs?: ReadonlyArray<{ type: string; amount_satoshi: number; htlc_id?: number; wscript?: string }>
  readonly remote_signature: string
  readonly local_signature?: string
  readonly commit_tx: string
  readonly htlc_txs: ReadonlyArray<HtlcTxVector>
}

export interface Common {
  readonly funding_tx_id: string
  readonly funding_output_index: number
  readonly funding_amount_satoshi: number
  readonly commitment_number: number
  readonly local_delay: number
  readonly local_dust_limit_satoshi?: number
  readonly local_payment_basepoint: string
  readonly remote_payment_basepoint: string
  readonly local_htlc_basepoint: string
  readonly remote_htlc_basepoint: string
  readonly local_funding_pubkey: string
  readonly remote_funding_pubkey: string
  readonly local_htlcpubkey: string
  readonly remote_htlcpubkey: string
  readonly local_delayedpubkey: string
  readonly local_revocation_pubkey: string
  readonly local_funding_privkey: string
  readonly local_privkey: string
  readonly obscuring_factor: string
  readonly funding_wscript: string
  readonly htlcs: ReadonlyArray<VectorHtlc>
  readonly internal_derivation_values: {
    readonly remote_funding_privkey: string
    readonly local_payment_basepoint_secret: string
    readonly remote_revocation_basepoint_secret: string
    readonly local_delayed_payment_basepoint_secret: string
    readonly remote_payment_basepoint_secret: string
    readonly x_local_per_commitment_secret: string
    readonly remote_revocation_basepoint: string
    readonly local_delayed_payment_basepoint: string
    readonly local_per_commitment_point: string
    readonly remote_privkey: string
    readonly local_delayed_privkey: string
  }
}

export interface VectorFile {
  readonly common: Common
  readonly tests: ReadonlyArray<CommitmentVector>
}

export const loadVectors = (file: string): VectorFile => JSON.parse(readFileSync(`${VECTORS}/${file}`, "utf8")) as VectorFile

export const legacy = loadVectors("bolt03-commitment-legacy.json")
export const anchors = loadVectors("bolt03-commitment-anchors.json")

export const pk = (hex: string): PublicKey => unsafePublicKey(fromHex(hex))

/**
 * Appendix C's basepoints: the owner (local) and the counterparty (remote). The owner's
 * revocation basepoint is not given (unused for its own commitment), so its payment
 * basepoint stands in; the remote's delayed payment basepoint likewise.
 */
export const basepointsOf = (c: Common): { readonly owner: ChannelBasepoints; readonly counterparty: ChannelBasepoints } => {
  const d = c.internal_derivation_values
  return {
    owner: {
      fundingPubkey: pk(c.local_funding_pubkey),
      revocationBasepoint: pk(c.local_payment_basepoint),
      paymentBasepoint: pk(c.local_payment_basepoint),
      delayedPaymentBasepoint: pk(d.local_delayed_payment_basepoint),
      htlcBasepoint: pk(c.local_htlc_basepoint)
    },
    counterparty: {
      fundingPubkey: pk(c.remote_funding_pubkey),
      revocationBasepoint: pk(d.remote_revocation_basepoint),
      paymentBasepoint: pk(c.remote_payment_basepoint),
      delayedPaymentBasepoint: pk(c.remote_payment_basepoint),
      htlcBasepoint: pk(c.remote_htlc_basepoint)
    }
  }
}
export const priv = (hex: string): PrivateKey => Redacted.make(fromHex(hex))

export interface TestHtlc extends CommitmentHtlc {
  readonly id: number
  readonly preimage: Uint8Array
}

export const htlcsOf = (common: Common, ids: ReadonlyArray<number>): ReadonlyArray<TestHtlc> =>
  ids.map((id) => {
    const h = common.htlcs.find((x) => x.id === id)
    if (h === undefined) throw new Error(`no htlc ${id}`)
    const preimage = fromHex(h.payment_preimage)
    return {
      id,
      direction: h.direction === "local->remote" ? "offered" : "received",
      amount: msat(BigInt(h.amount_msat)),
      paymentHash: sha256(preimage),
      cltvExpiry: h.expiry,
      preimage
    }
  })

export const keysOf = (common: Common): CommitmentKeys => ({
  perCommitmentPoint: pk(common.internal_derivation_values.local_per_commitment_point),
  revocationPubkey: pk(common.local_revocation_pubkey),
  localDelayedPubkey: pk(common.local_delayedpubkey),
  localHtlcPubkey: pk(common.local_htlcpubkey),
  remoteHtlcPubkey: pk(common.remote_htlcpubkey),
  remotePaymentPubkey: pk(common.remote_payment_basepoint)
})

export const paramsOf = (common: Common, t: CommitmentVector, channelType: ChannelType): CommitmentParams<TestHtlc> => ({
  channelType,
  fundingOutpoint: { txid: txidFromHex(common.funding_tx_id), vout: common.funding_output_index },
  fundingAmount: sat(BigInt(common.funding_amount_satoshi)),
  localFundingPubkey: pk(common.local_funding_pubkey),
  remoteFundingPubkey: pk(common.remote_funding_pubkey),
  commitmentNumber: BigInt(common.commitment_number),
  obscuringFactor: commitmentNumberObscuringFactor(pk(common.local_payment_basepoint), pk(common.remote_payment_basepoint)),
  localIsFunder: true,
  toLocal: msat(BigInt(t.to_local_msat)),
  toRemote: msat(BigInt(t.to_remote_msat)),
  htlcs: htlcsOf(common, t.htlc_ids),
  feeratePerKw: t.local_feerate_per_kw,
  dustLimit: sat(BigInt(t.local_dust_limit_satoshi ?? common.local_dust_limit_satoshi ?? 0)),
  toSelfDelay: common.local_delay,
  keys: keysOf(common)
})

export const legacyType = staticRemoteKey
export const anchorsType = anchorsZeroFeeHtlcTx

export const ok = <A, E>(r: Result.Result<A, E>): A => {
  if (Result.isFailure(r)) throw new Error(`unexpected failure: ${String((r.failure as { reason?: unknown }).reason ?? r.failure)}`)
  return r.success
}

/**
 * The noble implementation with its point operations memoised: property tests reuse a few
 * fixed key sets, and uncached EC multiplications would dominate their run time.
 */
const memo = <A extends ReadonlyArray<Uint8Array>, R>(f: (...args: A) => R): ((...args: A) => R) => {
  const cache = new Map<string, R>()
  return (...args: A): R => {
    const key = args.map((a) => Buffer.from(a).toString("hex")).join("|")
    const hit = cache.get(key)
    if (hit !== undefined) return hit
    const r = f(...args)
    cache.set(key, r)
    return r
  }
}
export const cachedSecp: typeof nobleSecp256k1 = {
  ...nobleSecp256k1,
  name: "noble-memoised",
  publicKey: memo(nobleSecp256k1.publicKey),
  pointAdd: memo(nobleSecp256k1.pointAdd),
  pointTweakAdd: memo(nobleSecp256k1.pointTweakAdd),
  pointMultiply: memo(nobleSecp256k1.pointMultiply)
}

/** The builder's params for a view's local commitment, keys at `point` (the local side's per-commitment point). */
export const paramsOfView = <H extends CommitmentHtlc>(view: ChannelView<H>, n: bigint, point: Uint8Array): CommitmentParams<H> => ({
  channelType: view.channelType,
  fundingOutpoint: view.fundingOutpoint,
  fundingAmount: view.fundingAmount,
  localFundingPubkey: view.local.basepoints.fundingPubkey,
  remoteFundingPubkey: view.remote.basepoints.fundingPubkey,
  commitmentNumber: n,
  obscuringFactor: commitmentNumberObscuringFactor(view.local.basepoints.paymentBasepoint, view.remote.basepoints.paymentBasepoint),
  localIsFunder: view.localIsOpener,
  toLocal: view.toLocal,
  toRemote: view.toRemote,
  htlcs: view.htlcs,
  feeratePerKw: view.feeratePerKw,
  dustLimit: view.local.dustLimit,
  toSelfDelay: view.remote.toSelfDelay,
  keys: ok(deriveCommitmentKeys(cachedSecp, view.local.basepoints, view.remote.basepoints, unsafePublicKey(point)))
})
