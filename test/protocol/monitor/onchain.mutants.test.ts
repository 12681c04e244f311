/**
 * Tests written against the mutants Stryker (`npm run mutate -- src/protocol/monitor/onchain.ts`)
 * left alive in `onchain.ts`: onchain.test.ts uses made-up transactions, and the real signed
 * commitments run in test/sim/onchain (not part of mutation runs). Here each kind of funding
 * spend is a REAL commitment transaction, built by the same builder the channel and the signer
 * use, so `resolve` recognises it and tracks every output: our commitment (BOLT 5 "Local
 * Commitment Transaction"), theirs (BOLT 5 "Remote Commitment Transaction"), their revoked one
 * (BOLT 5 "Revoked Transaction Close Handling"), with the second-stage HTLC transactions; then
 * who spent what (the witness shape of each BOLT 3 spending path), the claims due, their fee
 * targets, when everything is resolved, and the outcome of the HTLCs we offered.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { channelTypeByName, channelView, type ChannelParams } from "../../../src/protocol/channel/params.ts"
import { unsafePublicKey, type PublicKey } from "../../../src/protocol/keys/keys.ts"
import {
  blockConnected,
  blockDisconnected,
  claimsDue,
  claimTarget,
  emptyOnchainState,
  holderAnchorOutput,
  holderCommitmentDeadline,
  isClaimable,
  isResolved,
  offeredHtlcOutcomes,
  onchainFromJson,
  onchainToJson,
  resolve,
  watchedOutpoints,
  type OnchainState,
  type Resolution,
  type TrackedOutput
} from "../../../src/protocol/monitor/onchain.ts"
import type { MonitorHtlc, MonitorState } from "../../../src/protocol/monitor/state.ts"
import { RevokedCommitments } from "../../../src/protocol/monitor/revoked.ts"
import { makeInput, txid, type OutPoint, type Transaction } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import type { CommitmentTransaction } from "../../../src/protocol/tx/commitment.ts"
import { buildCommitmentForSide } from "../../../src/protocol/tx/view.ts"
import { p2wshScript } from "../../../src/protocol/tx/bitcoin/script.ts"
import { toRemoteAnchorsScript } from "../../../src/protocol/tx/scripts.ts"
import { msat, sat, type Msat } from "../../../src/protocol/units.ts"
import { counterpartyPointHex, counterpartySecretFor, HOLDER_UPFRONT_SCRIPT, makeParams, preimageFor, secp, stateOf, type HtlcSpec } from "./fixtures.ts"
import { equalBytes, fromHex } from "../../../src/protocol/bytes.ts"

const point = (tag: string): PublicKey => {
  const p = secp.publicKey(sha256(new TextEncoder().encode(tag)))
  if (p === undefined) throw new Error("bad test key")
  return unsafePublicKey(p)
}
const theirPoint = (n: bigint): PublicKey => unsafePublicKey(fromHex(counterpartyPointHex(n)))

const HOLDER_POINT = point("holder/point/5")
/** Different delays each way, so a swapped delay shows: we wait `OUR_DELAY` (asked by them), they `THEIR_DELAY`. */
const OUR_DELAY = 200
const THEIR_DELAY = 144
const H = 500

const withDelays = (p: ChannelParams): ChannelParams => ({ ...p, remote: { ...p.remote, toSelfDelay: OUR_DELAY }, local: { ...p.local, toSelfDelay: THEIR_DELAY } })

const htlc = (direction: MonitorHtlc["direction"], id: bigint, tag: number, amount: bigint, cltvExpiry: number): MonitorHtlc => ({
  direction,
  id,
  amount: msat(amount),
  paymentHash: sha256(preimageFor(tag)),
  cltvExpiry
})

const flip = (h: MonitorHtlc): MonitorHtlc => ({ ...h, direction: h.direction === "offered" ? "received" : "offered" })

/** A commitment of `owner`, balances and HTLCs from the owner's view, as the channel builds it. */
const commitmentTx = (
  params: ChannelParams,
  owner: "holder" | "counterparty",
  n: bigint,
  c: { readonly toLocal: Msat; readonly toRemote: Msat; readonly htlcs: ReadonlyArray<MonitorHtlc> },
  perCommitmentPoint: PublicKey
): CommitmentTransaction<MonitorHtlc> => {
  const holder = owner === "holder"
  const view = channelView(params, {
    toLocal: holder ? c.toLocal : c.toRemote,
    toRemote: holder ? c.toRemote : c.toLocal,
    htlcs: holder ? c.htlcs : c.htlcs.map(flip),
    feeratePerKw: 253
  })
  const built = buildCommitmentForSide(secp, view, holder ? "local" : "remote", n, perCommitmentPoint)
  if (Result.isFailure(built)) throw new Error(`build failed: ${JSON.stringify(built.failure)}`)
  return built.success
}

const withId = (tx: Transaction) => ({ tx, txid: txid(tx) })
const ctx = { secp, holderPoint: HOLDER_POINT }

/** Connects blocks in order: each entry is a height and its transactions. */
const chain = (monitor: MonitorState, blocks: ReadonlyArray<readonly [number, ReadonlyArray<Transaction>]>): OnchainState => {
  let s = emptyOnchainState
  for (const [height, txs] of blocks) s = blockConnected(monitor, s, height, txs.map(withId)).state
  return s
}

/** A transaction spending `prevout` with `witness` at input `vin` (other inputs unrelated), paying `outputs`. */
const spend = (
  prevout: OutPoint,
  witness: ReadonlyArray<Uint8Array>,
  outputs: Transaction["outputs"] = [{ value: sat(10_000n), scriptPubKey: Uint8Array.of(0x00, 0x14, ...new Uint8Array(20)) }],
  vin = 0
): Transaction => {
  const filler = { txid: txid({ version: 2, inputs: [], outputs: [], locktime: vin }), vout: 9 }
  const inputs = Array.from({ length: vin + 1 }, (_, i) => (i === vin ? { ...makeInput(prevout, 0xffffffff), witness } : makeInput(filler, 0xffffffff)))
  return { version: 2, inputs, outputs, locktime: 0 }
}

const b = (n: number, fill = 0): Uint8Array => new Uint8Array(n).fill(fill)
/** BOLT 3 witness shapes, by the length of the second item (what `spendPath` reads). */
const W = {
  htlcTx: [b(0), b(71), b(71), b(0), b(100)],
  delayedOrTimeout: [b(71), b(0), b(100)],
  revocation: [b(71), Uint8Array.of(1), b(100)],
  revokedHtlc: [b(71), b(33, 2), b(100)],
  preimage: (p: Uint8Array) => [b(71), p, b(100)],
  other: [b(71), b(5), b(100)]
}

const equalOutpoint = (a: OutPoint, b: OutPoint): boolean => a.vout === b.vout && equalBytes(a.txid, b.txid)
const kinds = (r: Resolution) => r.outputs.map((o) => o.kind)
const one = (r: Resolution, kind: TrackedOutput["kind"], id?: bigint): TrackedOutput => {
  const found = r.outputs.filter((o) => o.kind === kind && (id === undefined || o.htlc?.id === id))
  const first = found[0]
  if (first === undefined || found.length !== 1) throw new Error(`expected one ${kind}, got ${found.length}`)
  return first
}

// ---- our commitment -------------------------------------------------------------------------------

const OFFERED = htlc("offered", 0n, 1, 20_000_000n, 700)
const RECEIVED = htlc("received", 0n, 2, 30_000_000n, 710)
const DUST = htlc("offered", 1n, 3, 100_000n, 690)
const holderBalances = { toLocal: msat(549_900_000n), toRemote: msat(400_000_000n), htlcs: [OFFERED, RECEIVED, DUST] }

const base = stateOf(() => undefined)
const params = withDelays(base.params)
const holderState: MonitorState = {
  ...base,
  params,
  holderCommitment: { ...base.holderCommitment, commitmentNumber: 5n, ...holderBalances, counterpartyHtlcSignatures: [] }
}
const holderTx = commitmentTx(params, "holder", 5n, holderBalances, HOLDER_POINT)

const holderTxid = txid(holderTx.tx)
const outputOf = (c: CommitmentTransaction<MonitorHtlc>, kind: string, id?: bigint) => {
  const o = c.outputs.find((x) => x.kind === kind && (id === undefined || x.htlc?.id === id))
  if (o === undefined) throw new Error(`no ${kind} output`)
  return o
}
const anchors = channelTypeByName("anchors_zero_fee_htlc_tx")

describe("our commitment confirmed (BOLT 5 Local Commitment Transaction)", () => {
  const s = (): OnchainState => chain(holderState, [[H, [holderTx.tx]]])
  const r = (): Resolution => resolve(ctx, holderState, s())

  it("is recognised by its txid at our point, and tracks to_local and each untrimmed HTLC (not their balance, not the anchors)", () => {
    expect(r().spend).toEqual({ kind: "HolderCommitment", txid: holderTxid, height: H, commitmentNumber: 5n })
    expect(kinds(r())).toEqual(["offered_htlc", "received_htlc", "to_local"])
    // Without our point the commitment cannot be rebuilt: it is not ours to us.
    expect(resolve({ secp, holderPoint: undefined }, holderState, s()).spend?.kind).toBe("Unknown")
    // Our commitment number on another transaction (e.g. an older state of ours at that number): not ours.
    const other = { ...holderTx.tx, outputs: holderTx.tx.outputs.slice(1) }
    expect(resolve(ctx, holderState, chain(holderState, [[H, [other]]])).spend).toMatchObject({ kind: "Unknown", commitmentNumber: 5n })
  })

  it("who spent our outputs: to_local ours by the delayed path only; the other spending paths are theirs (BOLT 3 witnesses)", () => {
    const out = one(r(), "to_local").outpoint
    const statusBy = (w: ReadonlyArray<Uint8Array>) => one(resolve(ctx, holderState, chain(holderState, [[H, [holderTx.tx]], [800, [spend(out, w)]]])), "to_local").status
    expect(statusBy(W.delayedOrTimeout)).toEqual({ _tag: "Spent", txid: txid(spend(out, W.delayedOrTimeout)), height: 800, vin: 0, byUs: true })
    expect(statusBy(W.revocation)).toMatchObject({ byUs: false })
    expect(statusBy(W.htlcTx)).toMatchObject({ byUs: false })
    expect(statusBy([b(71), b(0)])).toMatchObject({ byUs: false })
  })

  it("to_local: ours after OUR to_self_delay (the one they asked of us), by the delayed key (MUST wait until the OP_CHECKSEQUENCEVERIFY delay has passed)", () => {
    const out = outputOf(holderTx, "to_local")
    expect(one(r(), "to_local")).toEqual({
      outpoint: { txid: holderTxid, vout: out.index },
      amount: holderTx.toLocalAmount,
      kind: "to_local",
      htlc: undefined,
      commitment: "holder",
      confirmedAt: H,
      claim: {
        _tag: "Sweep",
        input: { outpoint: { txid: holderTxid, vout: out.index }, amount: holderTx.toLocalAmount, sequence: OUR_DELAY, locktime: 0, witnessScript: out.witnessScript, witness: { _tag: "Delayed" } },
        key: { _tag: "HolderDelayed", commitmentNumber: 5n }
      },
      readyAt: H + OUR_DELAY,
      deadline: undefined,
      status: { _tag: "Unspent" }
    })
  })

  it("an HTLC we offered: our HTLC-timeout transaction, from its cltv_expiry on (the block after it), no deadline", () => {
    const o = one(r(), "offered_htlc")
    expect(o.outpoint).toEqual({ txid: holderTxid, vout: outputOf(holderTx, "offered_htlc").index })
    expect(o.amount).toBe(20_000n)
    expect(o.htlc).toEqual(OFFERED)
    expect(o.claim).toEqual({ _tag: "HolderHtlcTx", commitmentNumber: 5n, htlcIndex: 0, preimage: undefined })
    expect(o.readyAt).toBe(701)
    expect(o.deadline).toBeUndefined()
  })

  it("an HTLC offered to us: nothing to do without the preimage; its expiry is the deadline (then they take it back)", () => {
    const o = one(r(), "received_htlc")
    expect(o.claim).toBeUndefined()
    expect(o.readyAt).toBe(H + 1)
    expect(o.deadline).toBe(710)
    expect(o.commitment).toBe("holder")
  })

  it("an HTLC offered to us: with the preimage (stored or learned on chain), our HTLC-success transaction at once", () => {
    const preimage = preimageFor(2)
    const stored = { ...holderState, preimages: [{ paymentHash: RECEIVED.paymentHash, preimage }] }
    const expected = { _tag: "HolderHtlcTx", commitmentNumber: 5n, htlcIndex: 1, preimage }
    expect(one(resolve(ctx, stored, s()), "received_htlc").claim).toEqual(expected)
    const learned = { ...s(), learned: [{ paymentHash: RECEIVED.paymentHash, preimage }] }
    expect(one(resolve(ctx, holderState, learned), "received_htlc").claim).toEqual(expected)
  })

  it("an HTLC we offered that expired before the commitment confirmed: claimable in the next block", () => {
    const early = htlc("offered", 0n, 1, 20_000_000n, 400)
    const balances = { ...holderBalances, htlcs: [early, RECEIVED, DUST] }
    const state = { ...holderState, holderCommitment: { ...holderState.holderCommitment, htlcs: balances.htlcs } }
    const tx = commitmentTx(params, "holder", 5n, balances, HOLDER_POINT).tx
    expect(one(resolve(ctx, state, chain(state, [[H, [tx]]])), "offered_htlc").readyAt).toBe(H + 1)
  })

  describe("second stage: our HTLC-timeout transaction confirmed", () => {
    const delayed = anchors.scripts.htlcTxOutput(holderTx.params.keys, OUR_DELAY)
    const htlcOut = { txid: holderTxid, vout: outputOf(holderTx, "offered_htlc").index }
    // At input 1 (SIGHASH_SINGLE pairs it with output 1).
    const timeoutTx = spend(htlcOut, W.htlcTx, [{ value: sat(5_000n), scriptPubKey: Uint8Array.of(0x51) }, { value: sat(19_000n), scriptPubKey: delayed.scriptPubKey }], 1)
    const s2 = (): OnchainState => chain(holderState, [[H, [holderTx.tx]], [720, [timeoutTx]]])
    const r2 = (): Resolution => resolve(ctx, holderState, s2())

    it("the HTLC output is spent by us; its output (paired by index) is ours after our delay (MUST resolve the output of that HTLC-timeout transaction)", () => {
      expect(one(r2(), "offered_htlc").status).toEqual({ _tag: "Spent", txid: txid(timeoutTx), height: 720, vin: 1, byUs: true })
      const outpoint = { txid: txid(timeoutTx), vout: 1 }
      expect(one(r2(), "htlc_tx_output")).toEqual({
        outpoint,
        amount: 19_000n,
        kind: "htlc_tx_output",
        htlc: OFFERED,
        commitment: "holder",
        confirmedAt: 720,
        claim: {
          _tag: "Sweep",
          input: { outpoint, amount: 19_000n, sequence: OUR_DELAY, locktime: 0, witnessScript: delayed.witnessScript, witness: { _tag: "Delayed" } },
          key: { _tag: "HolderDelayed", commitmentNumber: 5n }
        },
        readyAt: 720 + OUR_DELAY,
        deadline: undefined,
        status: { _tag: "Unspent" }
      })
    })

    it("its output swept by the delayed path is ours; taken by the revocation path is theirs", () => {
      const out = { txid: txid(timeoutTx), vout: 1 }
      const sweep = spend(out, W.delayedOrTimeout)
      expect(one(resolve(ctx, holderState, chain(holderState, [[H, [holderTx.tx]], [720, [timeoutTx]], [930, [sweep]]])), "htlc_tx_output").status).toMatchObject({ byUs: true, height: 930 })
      const penalty = spend(out, W.revocation)
      expect(one(resolve(ctx, holderState, chain(holderState, [[H, [holderTx.tx]], [720, [timeoutTx]], [730, [penalty]]])), "htlc_tx_output").status).toMatchObject({ byUs: false })
    })

    it("no second stage for a spend that is not an HTLC transaction, or whose paired output is not our delayed script", () => {
      const theirClaim = spend(htlcOut, W.preimage(preimageFor(1)), [{ value: sat(19_000n), scriptPubKey: delayed.scriptPubKey }])
      const r3 = resolve(ctx, holderState, chain(holderState, [[H, [holderTx.tx]], [720, [theirClaim]]]))
      expect(one(r3, "offered_htlc").status).toMatchObject({ byUs: false })
      expect(kinds(r3)).not.toContain("htlc_tx_output")
      const elsewhere = spend(htlcOut, W.htlcTx, [{ value: sat(19_000n), scriptPubKey: Uint8Array.of(0x51) }])
      expect(kinds(resolve(ctx, holderState, chain(holderState, [[H, [holderTx.tx]], [720, [elsewhere]]])))).not.toContain("htlc_tx_output")
      const unpaired = spend(htlcOut, W.htlcTx, [{ value: sat(19_000n), scriptPubKey: delayed.scriptPubKey }], 1)
      expect(kinds(resolve(ctx, holderState, chain(holderState, [[H, [holderTx.tx]], [720, [unpaired]]])))).not.toContain("htlc_tx_output")
    })
  })
})

// ---- their commitment -----------------------------------------------------------------------------

/** On their commitment, directions are theirs: they offered THEY_OFFERED (we claim it with the preimage), we offered THEY_RECEIVED. */
const THEY_OFFERED = htlc("offered", 0n, 4, 25_000_000n, 720)
const THEY_RECEIVED = htlc("received", 3n, 5, 15_000_000n, 730)
const theirBalances = { toLocal: msat(360_000_000n), toRemote: msat(600_000_000n), htlcs: [THEY_OFFERED, THEY_RECEIVED] }

const counterpartyState = (p: ChannelParams, asNext = false): { readonly state: MonitorState; readonly tx: CommitmentTransaction<MonitorHtlc> } => {
  const tx = commitmentTx(p, "counterparty", 3n, theirBalances, theirPoint(3n))
  const c = { commitmentNumber: 3n, perCommitmentPoint: theirPoint(3n), feeratePerKw: 253, ...theirBalances, txid: txid(tx.tx) }
  const state: MonitorState = asNext ? { ...base, params: p, counterpartyNext: c } : { ...base, params: p, counterpartyCurrent: c }
  return { state, tx }
}

describe("their commitment confirmed (BOLT 5 Remote Commitment Transaction)", () => {
  const { state, tx } = counterpartyState(params)
  const theirTxid = txid(tx.tx)
  const r = (): Resolution => resolve(ctx, state, chain(state, [[H, [tx.tx]]]))
  const key = (h: MonitorHtlc) => ({
    _tag: "CounterpartyHtlc",
    perCommitmentPoint: theirPoint(3n),
    htlc: { direction: h.direction, amount: h.amount, paymentHash: h.paymentHash, cltvExpiry: h.cltvExpiry }
  })

  it("current or next: recognised by the txid we signed; our balance and each HTLC are tracked", () => {
    expect(r().spend).toEqual({ kind: "CounterpartyCommitment", txid: theirTxid, height: H, commitmentNumber: 3n })
    expect([...kinds(r())].sort()).toEqual(["offered_htlc", "received_htlc", "to_remote"])
    const next = counterpartyState(params, true)
    const rn = resolve(ctx, next.state, chain(next.state, [[H, [next.tx.tx]]]))
    expect(rn.spend?.kind).toBe("CounterpartyCommitment")
    expect(rn.outputs.length).toBe(3)
  })

  it("anchors: our to_remote is the CSV 1 P2WSH of our payment basepoint (MUST resolve by spending it to a convenient address)", () => {
    const out = outputOf(tx, "to_remote")
    const witnessScript = toRemoteAnchorsScript(params.local.basepoints.paymentBasepoint)
    expect(out.scriptPubKey).toEqual(p2wshScript(witnessScript))
    expect(one(r(), "to_remote")).toEqual({
      outpoint: { txid: theirTxid, vout: out.index },
      amount: out.amount,
      kind: "to_remote",
      htlc: undefined,
      commitment: "counterparty",
      confirmedAt: H,
      claim: {
        _tag: "Sweep",
        input: { outpoint: { txid: theirTxid, vout: out.index }, amount: out.amount, sequence: 1, locktime: 0, witnessScript, witness: { _tag: "ToRemoteAnchors" } },
        key: { _tag: "CounterpartyToRemote" }
      },
      readyAt: H + 1,
      deadline: undefined,
      status: { _tag: "Unspent" }
    })
  })

  it("an HTLC they offered: nothing without the preimage; with it, spent at once by the preimage path before its expiry (the deadline)", () => {
    const o = one(r(), "offered_htlc")
    expect(o.claim).toBeUndefined()
    expect(o.readyAt).toBe(H + 1)
    expect(o.deadline).toBe(720)
    expect(o.commitment).toBe("counterparty")
    const preimage = preimageFor(4)
    const known = { ...state, preimages: [{ paymentHash: THEY_OFFERED.paymentHash, preimage }] }
    const out = outputOf(tx, "offered_htlc")
    expect(one(resolve(ctx, known, chain(known, [[H, [tx.tx]]])), "offered_htlc").claim).toEqual({
      _tag: "Sweep",
      input: { outpoint: { txid: theirTxid, vout: out.index }, amount: out.amount, sequence: 1, locktime: 0, witnessScript: out.witnessScript, witness: { _tag: "Preimage", preimage } },
      key: key(THEY_OFFERED)
    })
  })

  it("an HTLC we offered: taken back by the timeout path, locktime its cltv_expiry, minable in the block after it", () => {
    const o = one(r(), "received_htlc")
    const out = outputOf(tx, "received_htlc")
    expect(o.claim).toEqual({
      _tag: "Sweep",
      input: { outpoint: { txid: theirTxid, vout: out.index }, amount: out.amount, sequence: 1, locktime: 730, witnessScript: out.witnessScript, witness: { _tag: "Timeout" } },
      key: key(THEY_RECEIVED)
    })
    expect(o.readyAt).toBe(731)
    expect(o.deadline).toBeUndefined()
    // Already expired when their commitment confirmed: claimable in the next block.
    const early = htlc("received", 3n, 5, 15_000_000n, 400)
    const balances = { ...theirBalances, htlcs: [THEY_OFFERED, early] }
    const etx = commitmentTx(params, "counterparty", 3n, balances, theirPoint(3n))
    const est: MonitorState = { ...state, counterpartyCurrent: { ...state.counterpartyCurrent, htlcs: balances.htlcs, txid: txid(etx.tx) } }
    expect(one(resolve(ctx, est, chain(est, [[H, [etx.tx]]])), "received_htlc").readyAt).toBe(H + 1)
  })

  it("HTLC spends on their commitment: ours by the preimage or timeout path, theirs by their HTLC transaction", () => {
    const offeredOut = one(r(), "offered_htlc").outpoint
    const receivedOut = one(r(), "received_htlc").outpoint
    const statusOf = (outpoint: OutPoint, witness: ReadonlyArray<Uint8Array>, kind: TrackedOutput["kind"]) =>
      one(resolve(ctx, state, chain(state, [[H, [tx.tx]], [740, [spend(outpoint, witness)]]])), kind).status
    expect(statusOf(offeredOut, W.preimage(preimageFor(4)), "offered_htlc")).toMatchObject({ byUs: true })
    expect(statusOf(receivedOut, W.delayedOrTimeout, "received_htlc")).toMatchObject({ byUs: true })
    expect(statusOf(offeredOut, W.htlcTx, "offered_htlc")).toMatchObject({ byUs: false })
    expect(statusOf(receivedOut, W.revocation, "received_htlc")).toMatchObject({ byUs: false })
    // Our balance is ours whoever spends it.
    expect(statusOf(one(r(), "to_remote").outpoint, W.other, "to_remote")).toMatchObject({ byUs: true })
  })

  it("without anchors: our to_remote is P2WPKH of our payment basepoint, the claims signal RBF (no CSV 1)", () => {
    const staticParams: ChannelParams = { ...params, channelType: "static_remote_key" }
    const st = counterpartyState(staticParams)
    const rs = resolve(ctx, st.state, chain(st.state, [[H, [st.tx.tx]]]))
    const toRemote = one(rs, "to_remote")
    expect(toRemote.claim).toEqual({
      _tag: "Sweep",
      input: {
        outpoint: toRemote.outpoint,
        amount: toRemote.amount,
        sequence: 0xfffffffd,
        locktime: 0,
        witnessScript: undefined,
        witness: { _tag: "ToRemoteP2wpkh", pubkey: staticParams.local.basepoints.paymentBasepoint }
      },
      key: { _tag: "CounterpartyToRemote" }
    })
    const timeout = one(rs, "received_htlc").claim
    expect(timeout?._tag === "Sweep" && timeout.input.sequence).toBe(0xfffffffd)
  })

  it("the funder pays their commitment's fee and anchors: here we do, so their balance is whole and sorts after an HTLC just below it (BOLT 3 fee payment)", () => {
    // Their to_local 25,200 sat above THEY_OFFERED's 25,000 sat; had they paid the fee and anchors (~1,000 sat) it would sort first.
    const close = { toLocal: msat(25_200_000n), toRemote: msat(934_800_000n), htlcs: [THEY_OFFERED, THEY_RECEIVED] }
    const tx = commitmentTx(params, "counterparty", 3n, close, theirPoint(3n))
    const c = { commitmentNumber: 3n, perCommitmentPoint: theirPoint(3n), feeratePerKw: 253, ...close, txid: txid(tx.tx) }
    const state: MonitorState = { ...base, params, counterpartyCurrent: c }
    const htlcVout = outputOf(tx, "offered_htlc").index
    expect(outputOf(tx, "to_local").index).toBe(htlcVout + 1)
    const o = one(resolve(ctx, state, chain(state, [[H, [tx.tx]]])), "offered_htlc")
    expect(o.outpoint.vout).toBe(htlcVout)
    expect(o.amount).toBe(25_000n)
  })

  it("an unknown commitment of theirs (a number we never signed): only our balance is surely ours (MUST inform the user of potentially lost funds)", () => {
    const unknown = commitmentTx(params, "counterparty", 9n, theirBalances, theirPoint(9n))
    const ru = resolve(ctx, base, chain(base, [[H, [unknown.tx]]]))
    expect(ru.spend).toMatchObject({ kind: "Unknown", commitmentNumber: 9n })
    expect(kinds(ru)).toEqual(["to_remote"])
    expect(one(ru, "to_remote").outpoint.vout).toBe(outputOf(unknown, "to_remote").index)
  })
})

// ---- their revoked commitment ---------------------------------------------------------------------

describe("their revoked commitment confirmed (BOLT 5 Revoked Transaction Close Handling)", () => {
  // Commitment 1 of theirs had HTLCs (ours: one we offered, one offered to us, and two with the
  // same script), then they revoked it: its HTLCs are kept with its number.
  const specs: ReadonlyArray<HtlcSpec> = [
    { id: 0, direction: "offered", amountMsat: 20_000_000, preimageTag: 6, cltvExpiry: 740 },
    { id: 0, direction: "received", amountMsat: 25_000_000, preimageTag: 7, cltvExpiry: 750 },
    { id: 1, direction: "received", amountMsat: 11_000_000, preimageTag: 8, cltvExpiry: 760 },
    { id: 2, direction: "received", amountMsat: 12_000_000, preimageTag: 8, cltvExpiry: 760 }
  ]
  const logged = stateOf((b) => {
    b.signCounterparty(specs)
    b.revoke()
    b.signCounterparty()
    b.revoke()
  })
  const state: MonitorState = { ...logged, params }
  const [revoked] = state.revokedCommitments
  if (revoked === undefined) throw new Error("no revoked commitment")
  const theirs = { toLocal: msat(332_000_000n), toRemote: msat(600_000_000n), htlcs: revoked.htlcs }
  const tx = commitmentTx(params, "counterparty", 1n, theirs, theirPoint(1n))
  const revokedTxid = txid(tx.tx)
  const s = (): OnchainState => chain(state, [[H, [tx.tx]]])
  const r = (): Resolution => resolve(ctx, state, s())
  const secret = counterpartySecretFor(1n)
  const keys = tx.params.keys

  it("is recognised by its commitment number (at or below the last revealed secret): their balance and every HTLC are ours by the revocation key", () => {
    expect(revoked.commitmentNumber).toBe(1n)
    expect(r().spend).toEqual({ kind: "RevokedCommitment", txid: revokedTxid, height: H, commitmentNumber: 1n })
    expect([...kinds(r())].sort()).toEqual(["revoked_htlc", "revoked_htlc", "revoked_htlc", "revoked_htlc", "revoked_to_local", "to_remote"])
  })

  it("their to_local: taken at once by the revocation path, before their delay runs out (MUST resolve the remote node's main output)", () => {
    const out = outputOf(tx, "to_local")
    expect(one(r(), "revoked_to_local")).toEqual({
      outpoint: { txid: revokedTxid, vout: out.index },
      amount: out.amount,
      kind: "revoked_to_local",
      htlc: undefined,
      commitment: "counterparty",
      confirmedAt: H,
      claim: {
        _tag: "Sweep",
        input: { outpoint: { txid: revokedTxid, vout: out.index }, amount: out.amount, sequence: 0xfffffffd, locktime: 0, witnessScript: out.witnessScript, witness: { _tag: "Revocation" } },
        key: { _tag: "Revoked", perCommitmentSecret: secret, output: { _tag: "ToLocal" } }
      },
      readyAt: H + 1,
      deadline: H + THEIR_DELAY,
      status: { _tag: "Unspent" }
    })
  })

  const byId = (direction: MonitorHtlc["direction"], id: bigint) => {
    const o = r().outputs.find((x) => x.kind === "revoked_htlc" && x.htlc?.direction === direction && x.htlc.id === id)
    if (o === undefined) throw new Error("missing revoked HTLC")
    return o
  }

  it("each HTLC by the revocation key: the deadline is its expiry for one they offered, the next block for one they received (they hold the preimage)", () => {
    const theyReceived = byId("received", 0n)
    const out = outputOf(tx, "received_htlc", 0n)
    expect(theyReceived.outpoint).toEqual({ txid: revokedTxid, vout: out.index })
    expect(theyReceived.claim).toEqual({
      _tag: "Sweep",
      input: {
        outpoint: { txid: revokedTxid, vout: out.index },
        amount: out.amount,
        sequence: 0xfffffffd,
        locktime: 0,
        witnessScript: out.witnessScript,
        witness: { _tag: "RevokedHtlc", revocationPubkey: keys.revocationPubkey }
      },
      key: {
        _tag: "Revoked",
        perCommitmentSecret: secret,
        output: { _tag: "Htlc", htlc: { direction: "received", amount: msat(20_000_000n), paymentHash: sha256(preimageFor(6)), cltvExpiry: 740 } }
      }
    })
    expect(theyReceived.readyAt).toBe(H + 1)
    expect(theyReceived.commitment).toBe("counterparty")
    expect(theyReceived.deadline).toBe(H + 1)
    expect(byId("offered", 0n).deadline).toBe(750)
    // Two HTLCs with the same script: each its own output.
    const twins = [byId("offered", 1n), byId("offered", 2n)]
    expect(new Set(twins.map((o) => o.outpoint.vout)).size).toBe(2)
    expect(twins.map((o) => o.amount).sort()).toEqual([11_000n, 12_000n])
  })

  it("their HTLC transaction on it: its output is ours by the revocation key too (MUST resolve the remote node's HTLC-timeout/success transaction)", () => {
    const theirOffered = byId("offered", 0n)
    const second = anchors.scripts.htlcTxOutput(keys, THEIR_DELAY)
    const htlcTx = spend(theirOffered.outpoint, W.htlcTx, [{ value: sat(1_000n), scriptPubKey: Uint8Array.of(0x51) }, { value: sat(24_000n), scriptPubKey: second.scriptPubKey }], 1)
    const r2 = resolve(ctx, state, chain(state, [[H, [tx.tx]], [760, [htlcTx]]]))
    expect(r2.outputs.find((o) => o.kind === "revoked_htlc" && equalOutpoint(o.outpoint, theirOffered.outpoint))?.status).toMatchObject({ byUs: false, height: 760 })
    const outpoint = { txid: txid(htlcTx), vout: 1 }
    expect(one(r2, "revoked_htlc_tx_output")).toEqual({
      outpoint,
      amount: 24_000n,
      kind: "revoked_htlc_tx_output",
      htlc: theirOffered.htlc,
      commitment: "counterparty",
      confirmedAt: 760,
      claim: {
        _tag: "Sweep",
        input: { outpoint, amount: 24_000n, sequence: 0xfffffffd, locktime: 0, witnessScript: second.witnessScript, witness: { _tag: "Revocation" } },
        key: { _tag: "Revoked", perCommitmentSecret: secret, output: { _tag: "HtlcTxOutput" } }
      },
      readyAt: 761,
      deadline: 760 + THEIR_DELAY,
      status: { _tag: "Unspent" }
    })
    // Taken by us (revocation path) or by them (their delayed path).
    const take = (w: ReadonlyArray<Uint8Array>) => one(resolve(ctx, state, chain(state, [[H, [tx.tx]], [760, [htlcTx]], [770, [spend(outpoint, w)]]])), "revoked_htlc_tx_output").status
    expect(take(W.revocation)).toMatchObject({ byUs: true })
    expect(take(W.delayedOrTimeout)).toMatchObject({ byUs: false })
    // Not an HTLC transaction, or not paying the delayed script: nothing more to follow.
    const notHtlcTx = spend(theirOffered.outpoint, W.revokedHtlc, [{ value: sat(24_000n), scriptPubKey: second.scriptPubKey }])
    expect(kinds(resolve(ctx, state, chain(state, [[H, [tx.tx]], [760, [notHtlcTx]]])))).not.toContain("revoked_htlc_tx_output")
    const elsewhere = spend(theirOffered.outpoint, W.htlcTx, [{ value: sat(24_000n), scriptPubKey: Uint8Array.of(0x51) }])
    expect(kinds(resolve(ctx, state, chain(state, [[H, [tx.tx]], [760, [elsewhere]]])))).not.toContain("revoked_htlc_tx_output")
    const unpaired = spend(theirOffered.outpoint, W.htlcTx, [{ value: sat(24_000n), scriptPubKey: second.scriptPubKey }], 1)
    expect(kinds(resolve(ctx, state, chain(state, [[H, [tx.tx]], [760, [unpaired]]])))).not.toContain("revoked_htlc_tx_output")
  })

  it("who took a revoked output: ours by the revocation, revoked-HTLC, preimage or timeout paths; theirs by their delayed path or HTLC transaction", () => {
    const toLocal = one(r(), "revoked_to_local").outpoint
    const anHtlc = byId("received", 0n).outpoint
    const statusOf = (outpoint: OutPoint, w: ReadonlyArray<Uint8Array>, kind: TrackedOutput["kind"]) =>
      resolve(ctx, state, chain(state, [[H, [tx.tx]], [770, [spend(outpoint, w)]]])).outputs.find((o) => o.kind === kind && equalOutpoint(o.outpoint, outpoint))?.status
    expect(statusOf(toLocal, W.revocation, "revoked_to_local")).toMatchObject({ byUs: true })
    expect(statusOf(toLocal, W.delayedOrTimeout, "revoked_to_local")).toMatchObject({ byUs: false })
    // A one-byte second item other than 1 is not the revocation path.
    expect(statusOf(toLocal, [b(71), Uint8Array.of(2), b(100)], "revoked_to_local")).toMatchObject({ byUs: false })
    expect(statusOf(anHtlc, W.revokedHtlc, "revoked_htlc")).toMatchObject({ byUs: true })
    expect(statusOf(anHtlc, W.preimage(preimageFor(7)), "revoked_htlc")).toMatchObject({ byUs: true })
    // A preimage whose first byte is 1 is still a preimage (not the revocation path's single 0x01).
    expect(statusOf(anHtlc, W.preimage(Uint8Array.of(1, ...b(31, 7))), "revoked_htlc")).toMatchObject({ byUs: true })
    expect(statusOf(anHtlc, W.delayedOrTimeout, "revoked_htlc")).toMatchObject({ byUs: true })
    expect(statusOf(anHtlc, W.htlcTx, "revoked_htlc")).toMatchObject({ byUs: false })
    expect(statusOf(anHtlc, W.other, "revoked_htlc")).toMatchObject({ byUs: false })
  })

  it("without anchors the smallest HTLC is output 0: taken too", () => {
    const staticParams: ChannelParams = { ...params, channelType: "static_remote_key" }
    const st: MonitorState = { ...state, params: staticParams }
    const stx = commitmentTx(staticParams, "counterparty", 1n, theirs, theirPoint(1n))
    const rs = resolve(ctx, st, chain(st, [[H, [stx.tx]]]))
    expect(rs.outputs.filter((o) => o.kind === "revoked_htlc").map((o) => o.outpoint.vout).sort()).toEqual([0, 1, 2, 3])
  })

  it("a revoked commitment without stored HTLCs: their balance and ours only", () => {
    const noHtlcs: MonitorState = { ...state, revokedCommitments: RevokedCommitments.empty }
    expect([...kinds(resolve(ctx, noHtlcs, s()))].sort()).toEqual(["revoked_to_local", "to_remote"])
  })
})

// ---- what to do, and when it is over ----------------------------------------------------------------

describe("claims due and their fee target", () => {
  const r = (): Resolution => resolve(ctx, holderState, chain(holderState, [[H, [holderTx.tx]]]))
  const toLocal = (): TrackedOutput => one(r(), "to_local")

  it("a claim can go into the next block once its readyAt is at most tip + 1; unspent only; never without a claim", () => {
    expect(isClaimable(toLocal(), H + OUR_DELAY - 1)).toBe(true)
    expect(isClaimable(toLocal(), H + OUR_DELAY - 2)).toBe(false)
    expect(isClaimable({ ...toLocal(), readyAt: undefined }, 0)).toBe(true)
    expect(isClaimable({ ...toLocal(), status: { _tag: "Spent", txid: holderTxid, height: H, vin: 0, byUs: true } }, 10_000)).toBe(false)
    expect(isClaimable(one(r(), "received_htlc"), 10_000)).toBe(false)
    expect(claimsDue(r(), H).map((o) => o.kind)).toEqual([])
    expect(claimsDue(r(), H + OUR_DELAY - 1).map((o) => o.kind)).toEqual(["to_local"])
    expect(claimsDue(r(), 700).map((o) => o.kind)).toEqual(["offered_htlc", "to_local"])
  })

  it("the target is the blocks left before the deadline, at least 1, at most the relaxed target (12 by default)", () => {
    const received = one(r(), "received_htlc")
    expect(claimTarget(toLocal(), H)).toBe(12)
    expect(claimTarget(toLocal(), H, 30)).toBe(30)
    expect(claimTarget(received, 705)).toBe(5)
    expect(claimTarget(received, 710)).toBe(1)
    expect(claimTarget(received, 800)).toBe(1)
    expect(claimTarget(received, 690)).toBe(12)
    expect(claimTarget(received, 690, 25)).toBe(20)
  })
})

describe("is everything over (BOLT 5: irrevocably resolved once the spends are deep enough)", () => {
  const FINAL = 6
  it("nothing spent, or the funding spend not yet finalityDepth deep (1 confirmation in its own block): not resolved", () => {
    expect(isResolved({ spend: undefined, outputs: [] }, 1000, FINAL)).toBe(false)
    const closed: Resolution = { spend: { kind: "MutualClose", txid: holderTxid, height: H, commitmentNumber: undefined }, outputs: [] }
    expect(isResolved(closed, H + FINAL - 2, FINAL)).toBe(false)
    expect(isResolved(closed, H + FINAL - 1, FINAL)).toBe(true)
  })

  it("every spend deep; our outputs of a mutual close and a to_remote we cannot claim count as done; an unspent claim does not", () => {
    const r = resolve(ctx, holderState, chain(holderState, [[H, [holderTx.tx]]]))
    const tip = 2000
    const spentAt = (o: TrackedOutput, height: number): TrackedOutput => ({ ...o, status: { _tag: "Spent", txid: holderTxid, height, vin: 0, byUs: true } })
    const toLocal = one(r, "to_local")
    const withOutputs = (outputs: ReadonlyArray<TrackedOutput>): Resolution => ({ spend: r.spend, outputs })
    expect(isResolved(withOutputs([spentAt(toLocal, tip - FINAL + 1)]), tip, FINAL)).toBe(true)
    expect(isResolved(withOutputs([spentAt(toLocal, tip - FINAL + 2)]), tip, FINAL)).toBe(false)
    expect(isResolved(withOutputs([toLocal]), tip, FINAL)).toBe(false)
    expect(isResolved(withOutputs([{ ...toLocal, kind: "closing_output", claim: undefined }]), tip, FINAL)).toBe(true)
    expect(isResolved(withOutputs([{ ...toLocal, kind: "to_remote", claim: undefined }]), tip, FINAL)).toBe(true)
    expect(isResolved(withOutputs([{ ...toLocal, kind: "to_remote" }]), tip, FINAL)).toBe(false)
    // An HTLC we cannot claim (no preimage): theirs once its expiry is finalityDepth deep.
    const received = one(r, "received_htlc")
    expect(isResolved(withOutputs([received]), 710 + FINAL - 1, FINAL)).toBe(true)
    expect(isResolved(withOutputs([received]), 710 + FINAL - 2, FINAL)).toBe(false)
    expect(isResolved(withOutputs([{ ...received, htlc: undefined }]), tip, FINAL)).toBe(false)
    // An HTLC we can still claim, unspent: not over, however deep its expiry.
    expect(isResolved(withOutputs([one(r, "offered_htlc")]), tip, FINAL)).toBe(false)
  })
})

describe("the outcome of the HTLCs we offered (BOLT 5: fulfill upstream on a preimage; fail once the resolution is deep)", () => {
  const FINAL = 6
  const s = (): OnchainState => chain(holderState, [[H, [holderTx.tx]]])
  const r = (): Resolution => resolve(ctx, holderState, s())
  const outcomes = (state: OnchainState, res: Resolution, tip: number) => offeredHtlcOutcomes(holderState, state, res, tip, FINAL)

  it("nothing before the funding output is spent, nothing for a mutual close", () => {
    expect(resolve(ctx, holderState, emptyOnchainState)).toEqual({ spend: undefined, outputs: [] })
    expect(outcomes(emptyOnchainState, { spend: undefined, outputs: [] }, 2000)).toEqual([])
    expect(outcomes(s(), { ...r(), spend: { kind: "MutualClose", txid: holderTxid, height: H, commitmentNumber: undefined } }, 2000)).toEqual([])
  })

  it("a preimage seen on chain: fulfilled at once, however deep", () => {
    const preimage = preimageFor(1)
    const learned = { ...s(), learned: [{ paymentHash: OFFERED.paymentHash, preimage }] }
    expect(outcomes(learned, r(), H)).toEqual([{ htlcId: 0n, paymentHash: OFFERED.paymentHash, result: { _tag: "Fulfilled", preimage } }])
  })

  it("failed once the commitment is deep: an HTLC without an output at once (trimmed); one with an output when we took it back deep enough", () => {
    expect(outcomes(s(), r(), H + FINAL - 2)).toEqual([])
    expect(outcomes(s(), r(), H + FINAL - 1)).toEqual([{ htlcId: 1n, paymentHash: DUST.paymentHash, result: { _tag: "Failed" } }])
    const taken = (byUs: boolean, height: number): Resolution => ({
      ...r(),
      outputs: r().outputs.map((o) => (o.kind === "offered_htlc" ? { ...o, status: { _tag: "Spent", txid: holderTxid, height, vin: 0, byUs } } : o))
    })
    const ids = (res: Resolution, tip: number) => outcomes(s(), res, tip).map((o) => o.htlcId)
    expect(ids(taken(true, 800), 800 + FINAL - 1)).toEqual([0n, 1n])
    expect(ids(taken(true, 800), 800 + FINAL - 2)).toEqual([1n])
    expect(ids(taken(false, 800), 2000)).toEqual([1n])
  })

  it("the HTLCs we offered are those of our commitment (offered) and of theirs (received there), matched by id, direction and hash", () => {
    const { state, tx } = counterpartyState(params)
    const sc = chain(state, [[H, [tx.tx]]])
    const rc = resolve(ctx, state, sc)
    // THEY_RECEIVED (our id 3) is ours; THEY_OFFERED is theirs. Its timeout claim deep: failed.
    const timedOut: Resolution = {
      ...rc,
      outputs: rc.outputs.map((o) => (o.kind === "received_htlc" ? { ...o, status: { _tag: "Spent", txid: holderTxid, height: 740, vin: 0, byUs: true } } : o))
    }
    expect(offeredHtlcOutcomes(state, sc, timedOut, 2000, FINAL).map((o) => o.htlcId)).toEqual([3n])
    // Not taken: no outcome.
    expect(offeredHtlcOutcomes(state, sc, rc, 2000, FINAL)).toEqual([])
    // The HTLC they offered, taken by us with its preimage: not one of ours, no outcome for it.
    const claimed: Resolution = {
      ...rc,
      outputs: rc.outputs.map((o) => (o.kind === "offered_htlc" ? { ...o, status: { _tag: "Spent", txid: holderTxid, height: 740, vin: 0, byUs: true } } : o))
    }
    expect(offeredHtlcOutcomes(state, sc, claimed, 2000, FINAL)).toEqual([])
  })
})

describe("our anchor and our commitment's deadline", () => {
  it("anchors: our anchor output on our latest commitment, to bump it by CPFP (BOLT 3 to_local_anchor); none without anchors", () => {
    const anchor = outputOf(holderTx, "local_anchor")
    expect(holderAnchorOutput(secp, holderState, HOLDER_POINT)).toEqual({ index: anchor.index, amount: 330n, witnessScript: anchor.witnessScript })
    expect(holderAnchorOutput(secp, { ...holderState, params: { ...params, channelType: "static_remote_key" } }, HOLDER_POINT)).toBeUndefined()
  })

  it("the earliest expiry of our commitment's HTLCs; none without HTLCs", () => {
    expect(holderCommitmentDeadline(holderState)).toBe(690)
    const reordered = { ...holderState, holderCommitment: { ...holderState.holderCommitment, htlcs: [RECEIVED, DUST, OFFERED] } }
    expect(holderCommitmentDeadline(reordered)).toBe(690)
    expect(holderCommitmentDeadline(base)).toBeUndefined()
  })
})

describe("relevant transactions and preimages from the chain (BOLT 5: MUST extract the payment preimage from the transaction input witness)", () => {
  const s = (): OnchainState => chain(holderState, [[H, [holderTx.tx]]])
  const offeredOut = { txid: holderTxid, vout: outputOf(holderTx, "offered_htlc").index }
  const preimage = preimageFor(1)

  it("a preimage in a witness of a relevant transaction is learned once, and kept across a reorg", () => {
    const claim = spend(offeredOut, [b(71), Uint8Array.from(preimage), b(31), b(100)])
    const r = blockConnected(holderState, s(), 720, [withId(claim)])
    expect(r.learned).toEqual([{ paymentHash: OFFERED.paymentHash, preimage }])
    expect(r.state.learned).toEqual([{ paymentHash: OFFERED.paymentHash, preimage }])
    expect(r.state.txs.map((t) => t.level)).toEqual([1, 2])
    // The same preimage again (another transaction): not new.
    const again = blockConnected(holderState, r.state, 721, [withId(spend(offeredOut, [preimage], undefined, 1))])
    expect(again.learned).toEqual([])
    expect(again.state.learned.length).toBe(1)
    expect(blockDisconnected(again.state, 720).learned.length).toBe(1)
  })

  it("not learned: a preimage we already store, a 32-byte item opening no HTLC of the channel, an unrelated transaction", () => {
    const stored = { ...holderState, preimages: [{ paymentHash: OFFERED.paymentHash, preimage }] }
    expect(blockConnected(stored, s(), 720, [withId(spend(offeredOut, [preimage]))]).learned).toEqual([])
    expect(blockConnected(holderState, s(), 720, [withId(spend(offeredOut, [preimageFor(99)]))]).learned).toEqual([])
    expect(blockConnected(holderState, s(), 720, [withId(spend({ txid: txid(spend(offeredOut, [])), vout: 5 }, [preimage]))]).learned).toEqual([])
  })

  it("the HTLCs whose hashes are watched: those of every commitment that can still appear (ours, theirs current and next, revoked)", () => {
    const hashOf = (tag: number) => sha256(preimageFor(tag))
    const h = (tag: number): MonitorHtlc => ({ ...OFFERED, paymentHash: hashOf(tag) })
    const learnedFor = (state: MonitorState, tag: number) =>
      blockConnected(state, s(), 720, [withId(spend(offeredOut, [preimageFor(tag)]))]).learned.map((p) => p.preimage)
    const next = { ...base.counterpartyCurrent, htlcs: [h(11)] }
    const state: MonitorState = {
      ...holderState,
      counterpartyCurrent: { ...base.counterpartyCurrent, htlcs: [h(10)] },
      counterpartyNext: next,
      revokedCommitments: RevokedCommitments.of([{ commitmentNumber: 0n, txid: holderTxid, htlcs: [h(12)] }])
    }
    expect(learnedFor(state, 10)).toEqual([preimageFor(10)])
    expect(learnedFor(state, 11)).toEqual([preimageFor(11)])
    expect(learnedFor(state, 12)).toEqual([preimageFor(12)])
    expect(learnedFor(state, 13)).toEqual([])
    // Only a 32-byte item is a payment_preimage: another length hashing to an HTLC's hash is not one.
    const long = b(33, 9)
    const withLong: MonitorState = { ...state, counterpartyCurrent: { ...state.counterpartyCurrent, htlcs: [{ ...OFFERED, paymentHash: sha256(long) }] } }
    expect(blockConnected(withLong, s(), 720, [withId(spend(offeredOut, [long]))]).learned).toEqual([])
  })

  it("a transaction spending the funding output and a level 1 output is level 1 (the lowest level it spends from, plus one)", () => {
    const both: Transaction = { ...spend(offeredOut, []), inputs: [makeInput(offeredOut, 0), makeInput(params.fundingOutpoint, 0)] }
    const r = blockConnected(holderState, s(), 720, [withId(both)])
    expect(r.state.txs.map((t) => t.level)).toEqual([1, 1])
    expect(watchedOutpoints(holderState, r.state).length).toBe(1 + holderTx.tx.outputs.length + 1)
    expect(watchedOutpoints(holderState, s())).toEqual([params.fundingOutpoint, ...holderTx.tx.outputs.map((_, vout) => ({ txid: holderTxid, vout }))])
    const reversed: Transaction = { ...both, inputs: [makeInput(params.fundingOutpoint, 0), makeInput(offeredOut, 0)] }
    expect(blockConnected(holderState, s(), 720, [withId(reversed)]).state.txs.map((t) => t.level)).toEqual([1, 1])
  })

  it("the same preimage revealed twice in one block is learned once", () => {
    const first = spend(offeredOut, [preimage])
    const second = spend(offeredOut, [b(71), preimage], undefined, 1)
    const r = blockConnected(holderState, s(), 720, [withId(first), withId(second)])
    expect(r.learned).toEqual([{ paymentHash: OFFERED.paymentHash, preimage }])
    expect(r.state.learned.length).toBe(1)
  })

  it("persisted and restored: the learned preimages too", () => {
    const r = blockConnected(holderState, s(), 720, [withId(spend(offeredOut, [preimage]))])
    const back = onchainFromJson(onchainToJson(r.state))
    expect(Result.isSuccess(back) && back.success.learned).toEqual([{ paymentHash: OFFERED.paymentHash, preimage }])
    expect(Result.isSuccess(back) && back.success.txs.map((t) => [t.height, t.level])).toEqual([[H, 1], [720, 2]])
  })

  it("a stored transaction that does not parse fails the whole restored state", () => {
    const restored = onchainFromJson({ txs: [{ height: H, level: 1, tx: Uint8Array.of(1, 2, 3) }], learned: [] })
    expect(Result.isFailure(restored) && restored.failure.startsWith("stored transaction does not parse:")).toBe(true)
  })
})

describe("a mutual close (BOLT 5 Mutual Close Handling)", () => {
  const closeTo = (script: Uint8Array): Transaction => ({
    version: 2,
    inputs: [makeInput(params.fundingOutpoint, 0xfffffffd)],
    outputs: [{ value: sat(400_000n), scriptPubKey: Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(7)) }, { value: sat(590_000n), scriptPubKey: script }],
    locktime: 0
  })
  it("our output is found by our shutdown script, or our upfront script when no shutdown was recorded; a zero-length script finds nothing", () => {
    const upfront = fromHex(HOLDER_UPFRONT_SCRIPT)
    const withUpfront: MonitorState = { ...base, params: makeParams({ holderUpfront: HOLDER_UPFRONT_SCRIPT }) }
    const r = resolve(ctx, withUpfront, chain(withUpfront, [[H, [closeTo(upfront)]]]))
    expect(r.spend?.kind).toBe("MutualClose")
    expect(r.outputs).toEqual([
      {
        outpoint: { txid: txid(closeTo(upfront)), vout: 1 },
        amount: 590_000n,
        kind: "closing_output",
        htlc: undefined,
        commitment: "holder",
        confirmedAt: H,
        claim: undefined,
        readyAt: undefined,
        deadline: undefined,
        status: { _tag: "Unspent" }
      }
    ])
    // No script of ours at all (no shutdown, no upfront script): nothing to track.
    expect(resolve(ctx, base, chain(base, [[H, [closeTo(upfront)]]]))).toMatchObject({ spend: { kind: "MutualClose" }, outputs: [] })
    // Our output of the close is ours whoever spends it (the wallet's from there).
    const closing = closeTo(upfront)
    const swept = spend({ txid: txid(closing), vout: 1 }, W.other)
    expect(resolve(ctx, withUpfront, chain(withUpfront, [[H, [closing]], [H + 1, [swept]]])).outputs[0]?.status).toMatchObject({ byUs: true, height: H + 1 })
    // Whatever else it spends, a transaction spending the funding output is the funding spend (BOLT 5: MUST monitor the blockchain for transactions that spend any output).
    const withWallet: Transaction = { ...closing, inputs: [makeInput({ txid: txid(swept), vout: 0 }, 0), ...closing.inputs] }
    expect(resolve(ctx, withUpfront, chain(withUpfront, [[H, [withWallet]]])).spend).toMatchObject({ kind: "MutualClose", txid: txid(withWallet) })
    const emptyShutdown: MonitorState = { ...withUpfront, holderShutdownScript: new Uint8Array(0) }
    expect(resolve(ctx, emptyShutdown, chain(emptyShutdown, [[H, [closeTo(new Uint8Array(0))]]])).outputs).toEqual([])
  })
})
