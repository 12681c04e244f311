/**
 * Tests written against the mutants Stryker (`npm run mutate -- src/protocol/monitor/balances.ts`)
 * left alive in `balances.ts`: each kind of claimable balance (BOLT 5 "Failing a Channel" seen
 * from the wallet) on one tracked output at a time, at the boundaries of its heights: the
 * confirmations counted from the block that holds the transaction (1 in that block), listed
 * until `finalityDepth` is reached; a timelocked claim ready when it can go into the next block;
 * an HTLC offered to us awaiting its preimage until its `cltv_expiry`; our outputs the
 * counterparty took with the revocation key. The outputs are made up (`resolve` builds real
 * ones from transactions in onchain.test.ts and test/sim/onchain): only the fields the
 * balances read matter here.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { describe, expect, it } from "vitest"
import { claimableBalances, outpointLabel, totalClaimable, type ClaimableBalance } from "../../../src/protocol/monitor/balances.ts"
import type { Claim, Resolution, TrackedOutput, TrackedOutputKind } from "../../../src/protocol/monitor/onchain.ts"
import type { MonitorHtlc } from "../../../src/protocol/monitor/state.ts"
import { txidFromBytes, type OutPoint, type Txid } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { msat, sat } from "../../../src/protocol/units.ts"
import { stateOf } from "./fixtures.ts"


const open = stateOf(() => undefined)
const idOf = (tag: string): Txid => txidFromBytes(sha256(new TextEncoder().encode(tag)))
const COMMITMENT = idOf("commitment")
const SPENDER = idOf("spender")
const FINALITY = 6

const claim: Claim = { _tag: "HolderHtlcTx", commitmentNumber: 1n, htlcIndex: 0, preimage: undefined }

const htlc = (direction: MonitorHtlc["direction"], cltvExpiry = 700): MonitorHtlc => ({
  direction,
  id: 0n,
  amount: msat(20_000_000n),
  paymentHash: sha256(Uint8Array.of(1)),
  cltvExpiry
})

const output = (over: Partial<TrackedOutput> & { readonly kind: TrackedOutputKind }, vout = 0): TrackedOutput => ({
  outpoint: { txid: COMMITMENT, vout },
  amount: sat(20_000n),
  htlc: undefined,
  commitment: "holder",
  confirmedAt: 500,
  claim: undefined,
  readyAt: undefined,
  deadline: undefined,
  status: { _tag: "Unspent" },
  ...over
})

const spent = (height: number, byUs: boolean): TrackedOutput["status"] => ({ _tag: "Spent", txid: SPENDER, height, vin: 0, byUs })

const resolution = (outputs: ReadonlyArray<TrackedOutput>): Resolution => ({
  spend: { kind: "HolderCommitment", txid: COMMITMENT, height: 500, commitmentNumber: 1n },
  outputs
})

const balancesOf = (o: TrackedOutput, tip: number): ReadonlyArray<ClaimableBalance> => claimableBalances(open, resolution([o]), tip, FINALITY)

describe("before the funding output is spent", () => {
  it("open or force-closed (our commitment not yet mined): our balance on our latest commitment, rounded down to the satoshi", () => {
    const odd = { ...open, holderCommitment: { ...open.holderCommitment, toLocal: msat(600_000_999n) } }
    expect(claimableBalances(odd, { spend: undefined, outputs: [] }, 700, FINALITY)).toEqual([{ _tag: "ChannelOpen", amount: 600_000n }])
    const forced = stateOf((b) => b.forceClose())
    expect(forced.closing._tag).toBe("ForceClosed")
    expect(claimableBalances(forced, { spend: undefined, outputs: [] }, 700, FINALITY)).toEqual([{ _tag: "ChannelOpen", amount: 600_000n }])
  })

  it("closed (the close is final): nothing is left to claim", () => {
    const closed = stateOf((b) => b.closed())
    expect(closed.closing._tag).toBe("Closed")
    expect(claimableBalances(closed, { spend: undefined, outputs: [] }, 700, FINALITY)).toEqual([])
  })
})

describe("outputs spent", () => {
  it("spent by us: awaiting confirmations counted from the spending block (1 in it), until finalityDepth", () => {
    const o = output({ kind: "to_local", status: spent(600, true) })
    expect(balancesOf(o, 600)).toEqual([{ _tag: "AwaitingConfirmations", amount: 20_000n, confirmations: 1, required: FINALITY, txid: SPENDER }])
    expect(balancesOf(o, 604)).toEqual([{ _tag: "AwaitingConfirmations", amount: 20_000n, confirmations: 5, required: FINALITY, txid: SPENDER }])
    // Six deep: final, no longer listed.
    expect(balancesOf(o, 605)).toEqual([])
  })

  it("our HTLC output on our commitment spent by our HTLC transaction: its output is the balance, not the HTLC", () => {
    for (const kind of ["offered_htlc", "received_htlc"] as const) {
      const o = output({ kind, htlc: htlc(kind === "offered_htlc" ? "offered" : "received"), claim, status: spent(600, true) })
      expect(balancesOf(o, 601)).toEqual([])
    }
    // The same HTLC output on THEIR commitment, swept by us: awaiting confirmations like any claim.
    const theirs = output({ kind: "received_htlc", commitment: "counterparty", htlc: htlc("received"), claim, status: spent(600, true) })
    expect(balancesOf(theirs, 601)).toEqual([{ _tag: "AwaitingConfirmations", amount: 20_000n, confirmations: 2, required: FINALITY, txid: SPENDER }])
  })

  it("our delayed outputs taken by the counterparty (revocation key): lost to penalty", () => {
    for (const kind of ["to_local", "htlc_tx_output"] as const) {
      expect(balancesOf(output({ kind, status: spent(600, false) }), 601)).toEqual([{ _tag: "LostToPenalty", amount: 20_000n, txid: SPENDER }])
    }
  })

  it("an output of their commitment spent by them (their HTLC, their revoked balance swept first) is no loss of ours", () => {
    const theirHtlc = output({ kind: "offered_htlc", commitment: "counterparty", htlc: htlc("offered"), claim, status: spent(600, false) })
    expect(balancesOf(theirHtlc, 601)).toEqual([])
    const revoked = output({ kind: "revoked_to_local", commitment: "counterparty", claim, status: spent(600, false) })
    expect(balancesOf(revoked, 601)).toEqual([])
  })
})

describe("outputs unspent", () => {
  it("our mutual close output: awaiting confirmations from its own block until finalityDepth", () => {
    const o = output({ kind: "closing_output", confirmedAt: 500 })
    expect(balancesOf(o, 500)).toEqual([{ _tag: "AwaitingConfirmations", amount: 20_000n, confirmations: 1, required: FINALITY, txid: COMMITMENT }])
    expect(balancesOf(o, 504)).toEqual([{ _tag: "AwaitingConfirmations", amount: 20_000n, confirmations: 5, required: FINALITY, txid: COMMITMENT }])
    expect(balancesOf(o, 505)).toEqual([])
  })

  it("an HTLC offered to us without its preimage: awaiting it until cltv_expiry, then nothing (the offerer takes it back)", () => {
    // Received on our commitment, or offered by them on theirs: both are HTLCs offered to us.
    const mine = output({ kind: "received_htlc", htlc: htlc("received", 700) })
    const theirs = output({ kind: "offered_htlc", commitment: "counterparty", htlc: htlc("offered", 700) })
    for (const o of [mine, theirs]) {
      expect(balancesOf(o, 699)).toEqual([{ _tag: "AwaitingPreimage", amount: 20_000n, expiresAt: 700, outpoint: o.outpoint }])
      expect(balancesOf(o, 700)).toEqual([])
    }
  })

  it("an HTLC we offered is never awaiting a preimage: ours by timeout, claimable from its cltv_expiry", () => {
    const onOurs = output({ kind: "offered_htlc", htlc: htlc("offered", 700), claim, readyAt: 700 })
    const onTheirs = output({ kind: "received_htlc", commitment: "counterparty", htlc: htlc("received", 700), claim, readyAt: 700 })
    for (const o of [onOurs, onTheirs]) {
      expect(balancesOf(o, 650)).toEqual([{ _tag: "ClaimableAt", amount: 20_000n, height: 700, kind: o.kind, outpoint: o.outpoint }])
      // Without a claim yet (nothing to sign with), still not awaiting a preimage, and not listed as ours.
      expect(balancesOf({ ...o, claim: undefined }, 650)).toEqual([])
    }
  })

  it("an HTLC offered to us whose preimage we have: claimable now", () => {
    const o = output({ kind: "received_htlc", htlc: htlc("received", 700), claim: { ...claim, preimage: sha256(Uint8Array.of(7)) } })
    expect(balancesOf(o, 650)).toEqual([{ _tag: "ClaimableNow", amount: 20_000n, kind: "received_htlc", outpoint: o.outpoint }])
  })

  it("a timelocked claim: claimable at its height until it can go into the next block (tip + 1)", () => {
    const o = output({ kind: "to_local", claim, readyAt: 644 })
    expect(balancesOf(o, 642)).toEqual([{ _tag: "ClaimableAt", amount: 20_000n, height: 644, kind: "to_local", outpoint: o.outpoint }])
    expect(balancesOf(o, 643)).toEqual([{ _tag: "ClaimableNow", amount: 20_000n, kind: "to_local", outpoint: o.outpoint }])
    expect(balancesOf({ ...o, readyAt: undefined }, 500)).toEqual([{ _tag: "ClaimableNow", amount: 20_000n, kind: "to_local", outpoint: o.outpoint }])
  })

  it("an output that is not ours (their balance on their commitment, nothing to claim) is not listed", () => {
    expect(balancesOf(output({ kind: "to_remote", commitment: "counterparty" }), 600)).toEqual([])
  })

  it("every output is considered, in order", () => {
    const outs = [output({ kind: "to_local", claim, readyAt: 644 }, 0), output({ kind: "closing_output" }, 1), output({ kind: "to_remote", claim }, 2)]
    expect(claimableBalances(open, resolution(outs), 600, FINALITY).map((b) => b._tag)).toEqual(["ClaimableAt", "ClaimableNow"])
  })
})

describe("totals and labels", () => {
  const outpoint: OutPoint = { txid: COMMITMENT, vout: 3 }
  it("the total counts what is ours: not what awaits a preimage, not what was lost to a penalty", () => {
    const list: ReadonlyArray<ClaimableBalance> = [
      { _tag: "ChannelOpen", amount: sat(1n) },
      { _tag: "ClaimableNow", amount: sat(10n), kind: "to_local", outpoint },
      { _tag: "ClaimableAt", amount: sat(100n), height: 1, kind: "to_local", outpoint },
      { _tag: "AwaitingConfirmations", amount: sat(1_000n), confirmations: 1, required: 6, txid: COMMITMENT },
      { _tag: "AwaitingPreimage", amount: sat(10_000n), expiresAt: 1, outpoint },
      { _tag: "LostToPenalty", amount: sat(100_000n), txid: COMMITMENT }
    ]
    expect(totalClaimable(list)).toBe(1_111n)
    expect(totalClaimable([])).toBe(0n)
  })

  it("an outpoint's label is its txid as block explorers show it (byte-reversed hex) and its index", () => {
    const t = txidFromBytes(Uint8Array.from({ length: 32 }, (_, i) => i))
    const label = outpointLabel({ txid: t, vout: 7 })
    expect(label).toBe(`${Array.from({ length: 32 }, (_, i) => (31 - i).toString(16).padStart(2, "0")).join("")}:7`)
    // The txid itself is not reversed in place.
    expect(t[0]).toBe(0)
  })
})
