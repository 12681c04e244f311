/**
 * Building either side's commitment from one node's view of the channel. A node holds the
 * channel from its own ("local") point of view; to sign the peer's commitment it builds the
 * "remote" side: owner and counterparty swap, HTLC directions flip, the peer's dust limit and
 * the delay we imposed on the peer apply. Both peers must arrive at the same bytes, which the
 * property tests check (`mirrorView`).
 */
import { Result } from "effect"
import { equalBytes } from "../bytes.ts"
import type { ChannelType } from "../channel-type.ts"
import type { Secp256k1 } from "../crypto/secp256k1.ts"
import type { ChannelBasepoints } from "../keys/commitment-keys.ts"
import { sharedCommitmentKeysCache, type CommitmentKeysCache } from "../keys/commitment-keys-cache.ts"
import type { KeyDerivationError } from "../keys/derivation.ts"
import type { PublicKey } from "../keys/keys.ts"
import type { Msat, Sat } from "../units.ts"
import type { OutPoint } from "./bitcoin/transaction.ts"
import { sharedCommitmentBuilds, type CommitmentBuilds } from "./commitment-builds.ts"
import {
  commitmentNumberObscuringFactor,
  type CommitmentError,
  type CommitmentHtlc,
  type CommitmentTransaction
} from "./commitment.ts"

export interface ChannelSideConfig {
  readonly basepoints: ChannelBasepoints
  /** This side's `dust_limit_satoshis` (applies to this side's commitment). */
  readonly dustLimit: Sat
  /** The `to_self_delay` this side requires of the other side (applies to the other's commitment). */
  readonly toSelfDelay: number
}

export interface ChannelView<H extends CommitmentHtlc = CommitmentHtlc> {
  readonly channelType: ChannelType
  readonly fundingOutpoint: OutPoint
  readonly fundingAmount: Sat
  readonly local: ChannelSideConfig
  readonly remote: ChannelSideConfig
  readonly localIsOpener: boolean
  /** Balances excluding HTLCs, from the local side's point of view. */
  readonly toLocal: Msat
  readonly toRemote: Msat
  /** HTLCs with `direction` from the local side's point of view ("offered" = sent by local). */
  readonly htlcs: ReadonlyArray<H>
  readonly feeratePerKw: number
}

export type Side = "local" | "remote"

const flip = <H extends CommitmentHtlc>(h: H): H => ({ ...h, direction: h.direction === "offered" ? "received" : "offered" })

/** The same channel as the peer sees it. */
export const mirrorView = <H extends CommitmentHtlc>(view: ChannelView<H>): ChannelView<H> => ({
  ...view,
  local: view.remote,
  remote: view.local,
  localIsOpener: !view.localIsOpener,
  toLocal: view.toRemote,
  toRemote: view.toLocal,
  htlcs: view.htlcs.map(flip)
})

/**
 * The last obscuring factor computed per opener payment basepoint (by array identity, with
 * copies of both basepoints compared on a hit): a channel's views share their basepoint arrays,
 * so each channel hashes its two basepoints once rather than for every commitment it builds.
 */
const obscuringMemo = new WeakMap<Uint8Array, { readonly opener: Uint8Array; readonly accepter: Uint8Array; readonly factor: bigint }>()

export const viewObscuringFactor = (view: ChannelView<CommitmentHtlc>): bigint => {
  const opener: PublicKey = view.localIsOpener ? view.local.basepoints.paymentBasepoint : view.remote.basepoints.paymentBasepoint
  const accepter: PublicKey = view.localIsOpener ? view.remote.basepoints.paymentBasepoint : view.local.basepoints.paymentBasepoint
  const held = obscuringMemo.get(opener)
  if (held !== undefined && equalBytes(held.opener, opener) && equalBytes(held.accepter, accepter)) return held.factor
  const factor = commitmentNumberObscuringFactor(opener, accepter)
  obscuringMemo.set(opener, { opener: Uint8Array.from(opener), accepter: Uint8Array.from(accepter), factor })
  return factor
}

/**
 * The commitment transaction owned by `side` at `commitmentNumber`, with the owner's
 * `perCommitmentPoint` (ours from the signer for "local", the one the peer sent for "remote").
 * The commitment's keys come from `keysCache` and the build from `builds` (by default the
 * process-wide memos the in-process signer also uses), so each commitment's keys are derived,
 * and the commitment built, once for building, signing and verifying.
 */
export const buildCommitmentForSide = <H extends CommitmentHtlc>(
  secp: Secp256k1,
  view: ChannelView<H>,
  side: Side,
  commitmentNumber: bigint,
  perCommitmentPoint: PublicKey,
  keysCache: CommitmentKeysCache = sharedCommitmentKeysCache,
  builds: CommitmentBuilds = sharedCommitmentBuilds
): Result.Result<CommitmentTransaction<H>, CommitmentError | KeyDerivationError> => {
  const v = side === "local" ? view : mirrorView(view)
  return Result.flatMap(keysCache.derive(secp, v.local.basepoints, v.remote.basepoints, perCommitmentPoint), (keys) =>
    builds.build<H>({
      channelType: v.channelType,
      fundingOutpoint: v.fundingOutpoint,
      fundingAmount: v.fundingAmount,
      localFundingPubkey: v.local.basepoints.fundingPubkey,
      remoteFundingPubkey: v.remote.basepoints.fundingPubkey,
      commitmentNumber,
      obscuringFactor: viewObscuringFactor(view),
      localIsFunder: v.localIsOpener,
      toLocal: v.toLocal,
      toRemote: v.toRemote,
      htlcs: v.htlcs,
      feeratePerKw: v.feeratePerKw,
      dustLimit: v.local.dustLimit,
      toSelfDelay: v.remote.toSelfDelay,
      keys
    })
  )
}
