/**
 * The invariants a simulation checks, as pure functions over channel states.
 *
 * `agreement` (BOLT 2/3): both ends of a channel hold the same commitments: each side's current
 * commitment is the other's view of it (same number, same spec mirrored, and the txid we hold is
 * the one the peer would build), and every commitment's balances plus HTLCs equal the funding
 * amount (the BOLT 3 fee is taken from the funder's output when the transaction is built, so
 * the spec itself is conserved).
 */
import { Result } from "effect"
import { equalBytes, toHex } from "../protocol/bytes.ts"
import { mirrorSpec, type CommitmentSpec } from "../protocol/channel/commitments.ts"
import { channelView } from "../protocol/channel/params.ts"
import type { ChannelState } from "../protocol/channel/state.ts"
import type { Secp256k1 } from "../protocol/crypto/secp256k1.ts"
import { txid as computeTxid } from "../protocol/tx/bitcoin/transaction.ts"
import { buildCommitmentForSide } from "../protocol/tx/view.ts"

const sumSpec = (s: CommitmentSpec): bigint => s.toLocal + s.toRemote + s.htlcs.reduce((a, x) => a + x.amount, 0n)

const specKey = (s: CommitmentSpec): string =>
  JSON.stringify({
    f: s.feeratePerKw,
    l: s.toLocal.toString(),
    r: s.toRemote.toString(),
    h: [...s.htlcs].map((x) => `${x.direction}/${x.id}/${x.amount}/${toHex(x.paymentHash)}/${x.cltvExpiry}`).sort()
  })

/** The disagreements between two ends of a channel (empty: they agree). */
export const agreement = (secp: Secp256k1, a: ChannelState, b: ChannelState): ReadonlyArray<string> => {
  if (a._tag !== "Normal" || b._tag !== "Normal") return [`not both Normal: ${a._tag} / ${b._tag}`]
  const problems: Array<string> = []
  const check = (mine: typeof a, theirs: typeof b, who: string) => {
    const local = mine.commitments.localCommit
    const remote = theirs.commitments.remoteCommit
    const funding = mine.commitments.params.fundingAmount * 1000n
    if (sumSpec(local.spec) !== funding) problems.push(`${who}: local commitment ${local.number} sums to ${sumSpec(local.spec)}, funding ${funding}`)
    if (local.number !== remote.number) problems.push(`${who}: local commitment ${local.number}, peer's view ${remote.number}`)
    else if (specKey(local.spec) !== specKey(remote.spec)) problems.push(`${who}: commitment ${local.number} specs differ`)
    else {
      const built = buildCommitmentForSide(secp, channelView(theirs.commitments.params, mirrorSpec(remote.spec)), "remote", remote.number, remote.perCommitmentPoint)
      if (Result.isFailure(built)) problems.push(`${who}: the peer cannot build our commitment ${remote.number}`)
      else if (!equalBytes(computeTxid(built.success.tx), local.txid)) problems.push(`${who}: commitment ${local.number} txid differs from the peer's`)
    }
  }
  check(a, b, "a")
  check(b, a, "b")
  return problems
}

/** Our balance in a channel from its state (msat, HTLCs excluded), or undefined once it left normal operation. */
export const localBalance = (s: ChannelState): bigint | undefined => {
  switch (s._tag) {
    case "Normal":
    case "Negotiating":
      return s.commitments.localCommit.spec.toLocal
    default:
      return undefined
  }
}
