/**
 * Claimable balances (BOLT 5 seen from the wallet): for one channel, from its monitor state and
 * its on-chain resolution, what is ours, in which state, and from when. Pure.
 *
 * - `ChannelOpen`: the funding output is unspent; our balance on our latest commitment, HTLCs
 *   in flight not included (what a force close would give us, before the commitment fee, the
 *   anchors and the claims' fees).
 * - `ClaimableNow`: an output of ours whose claim can go into the next block (being broadcast).
 * - `ClaimableAt`: an output of ours behind a timelock: claimable from block `height`
 *   (`to_self_delay` on our outputs, `cltv_expiry` on HTLCs we offered).
 * - `AwaitingPreimage`: an HTLC offered to us whose preimage we do not have (yet): ours only if
 *   it arrives before `expiresAt`; not counted in the total.
 * - `AwaitingConfirmations`: spent to us (a claim, a mutual close output) and not yet
 *   `finalityDepth` deep.
 * - `LostToPenalty`: an output of ours the counterparty took with the revocation key.
 * Outputs that are final, or that were never ours, are not listed.
 */
import { toHex } from "../bytes.ts"
import type { OutPoint } from "../tx/bitcoin/transaction.ts"
import { msatToSat, sat, type Sat } from "../units.ts"
import { isClaimable, type Resolution, type TrackedOutput, type TrackedOutputKind } from "./onchain.ts"
import type { MonitorState } from "./state.ts"

export type ClaimableBalance =
  | { readonly _tag: "ChannelOpen"; readonly amount: Sat }
  | { readonly _tag: "ClaimableNow"; readonly amount: Sat; readonly kind: TrackedOutputKind; readonly outpoint: OutPoint }
  | { readonly _tag: "ClaimableAt"; readonly amount: Sat; readonly height: number; readonly kind: TrackedOutputKind; readonly outpoint: OutPoint }
  | { readonly _tag: "AwaitingPreimage"; readonly amount: Sat; readonly expiresAt: number; readonly outpoint: OutPoint }
  | { readonly _tag: "AwaitingConfirmations"; readonly amount: Sat; readonly confirmations: number; readonly required: number; readonly txid: Uint8Array }
  | { readonly _tag: "LostToPenalty"; readonly amount: Sat; readonly txid: Uint8Array }

/** Kinds whose spend is a second-stage transaction of ours, itself tracked (its output is the balance). */
const intoSecondStage = (o: TrackedOutput): boolean => o.commitment === "holder" && (o.kind === "offered_htlc" || o.kind === "received_htlc")

/** An unspent output that is ours: one we hold a claim for (now or after a timelock), or our mutual close output. */
const ours = (o: TrackedOutput): boolean => o.kind === "closing_output" || o.claim !== undefined

const weOffered = (o: TrackedOutput): boolean =>
  o.htlc !== undefined && ((o.commitment === "holder" && o.htlc.direction === "offered") || (o.commitment === "counterparty" && o.htlc.direction === "received"))

/** Each balance of one channel at height `tip`. */
export const claimableBalances = (
  monitor: MonitorState,
  resolution: Resolution,
  tip: number,
  finalityDepth: number
): ReadonlyArray<ClaimableBalance> => {
  if (resolution.spend === undefined) {
    return monitor.closing._tag === "Closed" ? [] : [{ _tag: "ChannelOpen", amount: msatToSat(monitor.holderCommitment.toLocal) }]
  }
  const confirmations = (height: number) => tip - height + 1
  const out: Array<ClaimableBalance> = []
  for (const o of resolution.outputs) {
    if (o.status._tag === "Spent") {
      if (intoSecondStage(o)) continue
      const c = confirmations(o.status.height)
      if (o.status.byUs) {
        if (c < finalityDepth) out.push({ _tag: "AwaitingConfirmations", amount: o.amount, confirmations: c, required: finalityDepth, txid: o.status.txid })
      } else if ((o.kind === "to_local" || o.kind === "htlc_tx_output") && o.commitment === "holder") {
        out.push({ _tag: "LostToPenalty", amount: o.amount, txid: o.status.txid })
      }
      continue
    }
    if (o.kind === "closing_output") {
      const c = confirmations(o.confirmedAt)
      if (c < finalityDepth) out.push({ _tag: "AwaitingConfirmations", amount: o.amount, confirmations: c, required: finalityDepth, txid: o.outpoint.txid })
      continue
    }
    if (o.htlc !== undefined && o.claim === undefined && !weOffered(o)) {
      if (tip < o.htlc.cltvExpiry) out.push({ _tag: "AwaitingPreimage", amount: o.amount, expiresAt: o.htlc.cltvExpiry, outpoint: o.outpoint })
      continue
    }
    if (!ours(o)) continue
    if (isClaimable(o, tip)) out.push({ _tag: "ClaimableNow", amount: o.amount, kind: o.kind, outpoint: o.outpoint })
    else out.push({ _tag: "ClaimableAt", amount: o.amount, height: o.readyAt ?? tip + 1, kind: o.kind, outpoint: o.outpoint })
  }
  return out
}

/** What counts as ours in a list of balances: everything but `AwaitingPreimage` and `LostToPenalty`. */
export const totalClaimable = (balances: ReadonlyArray<ClaimableBalance>): Sat =>
  sat(balances.reduce((a, b) => (b._tag === "AwaitingPreimage" || b._tag === "LostToPenalty" ? a : a + b.amount), 0n))

/** A stable key for an outpoint (for callers that list balances). */
export const outpointLabel = (o: OutPoint): string => `${toHex(Uint8Array.from(o.txid).reverse())}:${o.vout}`
