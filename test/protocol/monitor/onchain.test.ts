/**
 * The pure half of BOLT 5 enforcement (`src/protocol/monitor/onchain.ts`, `balances.ts`) and
 * the claim builder (`src/protocol/tx/claims.ts`), on made-up transactions: which transactions
 * are relevant (levels, chains inside one block, unrelated ones ignored), reorgs, the
 * classification of a funding spend (mutual close, revoked by number, unknown), persistence,
 * balances before a close, and claim fees and weights. The real commitments and claims, signed
 * and run through a script interpreter, are in test/sim/onchain/.
 */
import { describe, expect, it } from "vitest"
import { Result, Schema } from "effect"
import { sha256 } from "@noble/hashes/sha2.js"
import { toHex } from "../../../src/protocol/bytes.ts"
import { unsafePublicKey } from "../../../src/protocol/keys/keys.ts"
import { claimableBalances } from "../../../src/protocol/monitor/balances.ts"
import {
  blockConnected,
  blockDisconnected,
  emptyOnchainState,
  obscuringFactorOf,
  onchainFromJson,
  OnchainStateJsonSchema,
  onchainToJson,
  resolve,
  watchedOutpoints
} from "../../../src/protocol/monitor/onchain.ts"
import { p2wpkhScript, p2wshScript } from "../../../src/protocol/tx/bitcoin/script.ts"
import { makeInput, setWitness, txid, weight, type OutPoint, type Transaction } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { buildClaimTransaction, CLAIM_DUST_LIMIT, expectedClaimWeight, finalizeClaim, type ClaimInput } from "../../../src/protocol/tx/claims.ts"
import { obscuredCommitmentFields } from "../../../src/protocol/tx/commitment.ts"
import { toLocalScript } from "../../../src/protocol/tx/scripts.ts"
import { sat } from "../../../src/protocol/units.ts"
import { secp, stateOf } from "./fixtures.ts"

const HOLDER_SCRIPT = p2wpkhScript(sha256(Uint8Array.of(1)).subarray(0, 33))
const OTHER_SCRIPT = p2wpkhScript(sha256(Uint8Array.of(2)).subarray(0, 33))


const spending = (prevouts: ReadonlyArray<OutPoint>, outputs: number, fields: { readonly locktime?: number; readonly sequence?: number } = {}): Transaction => ({
  version: 2,
  inputs: prevouts.map((p) => makeInput(p, fields.sequence ?? 0xffffffff)),
  outputs: Array.from({ length: outputs }, (_, i) => ({ value: sat(100_000n + BigInt(i)), scriptPubKey: i === 0 ? HOLDER_SCRIPT : OTHER_SCRIPT })),
  locktime: fields.locktime ?? 0
})
const withId = (tx: Transaction) => ({ tx, txid: txid(tx) })

describe("on-chain state: relevant transactions and reorgs", () => {
  const monitor = stateOf((b) => b.shutdown("holder", HOLDER_SCRIPT))
  const funding = monitor.params.fundingOutpoint
  const closing = spending([funding], 2)
  const sweep = spending([{ txid: txid(closing), vout: 0 }], 1)
  const deeper = spending([{ txid: txid(sweep), vout: 0 }], 1)
  const deepest = spending([{ txid: txid(deeper), vout: 0 }], 1)
  const unrelated = spending([{ txid: txid(spending([], 1)), vout: 0 }], 1)

  it("keeps the funding spend and spends of its outputs (two levels down), in block order, even within one block", () => {
    const r = blockConnected(monitor, emptyOnchainState, 500, [withId(unrelated), withId(closing), withId(sweep), withId(deeper), withId(deepest)])
    expect(r.state.txs.map((t) => [toHex(t.txid), t.level])).toEqual([
      [toHex(txid(closing)), 1],
      [toHex(txid(sweep)), 2],
      [toHex(txid(deeper)), 3]
    ])
    // Outputs of level 3 transactions are not watched (the wallet's business).
    expect(watchedOutpoints(monitor, r.state).length).toBe(1 + 2 + 1)
    // The same block again changes nothing.
    expect(blockConnected(monitor, r.state, 500, [withId(closing)]).state).toBe(r.state)
  })

  it("a disconnected block forgets its transactions and those above it, nothing below", () => {
    const a = blockConnected(monitor, emptyOnchainState, 500, [withId(closing)]).state
    const b = blockConnected(monitor, a, 501, [withId(sweep)]).state
    expect(blockDisconnected(b, 501).txs.map((t) => t.height)).toEqual([500])
    expect(blockDisconnected(b, 500).txs).toEqual([])
    expect(blockDisconnected(b, 502)).toBe(b)
  })

  it("a mutual close: our output awaits confirmations, then nothing is left", () => {
    const s = blockConnected(monitor, emptyOnchainState, 500, [withId(closing)]).state
    const r = resolve({ secp, holderPoint: undefined }, monitor, s)
    expect(r.spend?.kind).toBe("MutualClose")
    expect(r.outputs.map((o) => o.kind)).toEqual(["closing_output"])
    expect(claimableBalances(monitor, r, 502, 6).map((b) => b._tag)).toEqual(["AwaitingConfirmations"])
    expect(claimableBalances(monitor, r, 505, 6)).toEqual([])
  })

  it("persists and restores the same state (transactions as bytes, levels, learned preimages)", () => {
    const s = blockConnected(monitor, emptyOnchainState, 500, [withId(closing), withId(sweep)]).state
    const json = JSON.parse(JSON.stringify(Schema.encodeSync(OnchainStateJsonSchema)(onchainToJson(s))))
    const back = onchainFromJson(Schema.decodeUnknownSync(OnchainStateJsonSchema)(json))
    expect(Result.isSuccess(back)).toBe(true)
    if (Result.isSuccess(back)) expect(back.success.txs.map((t) => [toHex(t.txid), t.height, t.level])).toEqual(s.txs.map((t) => [toHex(t.txid), t.height, t.level]))
  })
})

describe("classifying a funding spend", () => {
  it("an obscured commitment number at or below the last revealed secret is their revoked commitment; above it, unknown", () => {
    const monitor = stateOf((b) => {
      b.signCounterparty()
      b.revoke()
      b.signCounterparty()
      b.revoke()
    })
    const factor = obscuringFactorOf(monitor.params)
    const commitmentLike = (n: bigint) => {
      const f = obscuredCommitmentFields(n, factor)
      return spending([monitor.params.fundingOutpoint], 2, { locktime: f.locktime, sequence: f.sequence })
    }
    const kindOf = (tx: Transaction) => resolve({ secp, holderPoint: undefined }, monitor, blockConnected(monitor, emptyOnchainState, 700, [withId(tx)]).state).spend
    expect(kindOf(commitmentLike(1n))).toMatchObject({ kind: "RevokedCommitment", commitmentNumber: 1n })
    expect(kindOf(commitmentLike(0n))).toMatchObject({ kind: "RevokedCommitment", commitmentNumber: 0n })
    expect(kindOf(commitmentLike(5n))).toMatchObject({ kind: "Unknown", commitmentNumber: 5n })
    // Nothing spends the funding output: no spend, and the balance is the open channel's.
    const none = resolve({ secp, holderPoint: undefined }, monitor, emptyOnchainState)
    expect(none.spend).toBeUndefined()
    expect(claimableBalances(monitor, none, 700, 6)).toEqual([{ _tag: "ChannelOpen", amount: 600_000n }])
  })
})

describe("claim transactions", () => {
  const raw = secp.publicKey(sha256(Uint8Array.of(9)))
  if (raw === undefined) throw new Error("bad key")
  const key = unsafePublicKey(raw)
  const script = toLocalScript(key, 144, key)
  const input = (amount: bigint): ClaimInput => ({
    outpoint: { txid: txid(spending([], 1)), vout: 0 },
    amount: sat(amount),
    sequence: 144,
    locktime: 0,
    witnessScript: script,
    witness: { _tag: "Delayed" }
  })

  it("pays the amount minus feerate x expected weight, and the signed transaction never weighs more", () => {
    const built = buildClaimTransaction(input(50_000n), p2wshScript(script), 2_500)
    expect(Result.isSuccess(built)).toBe(true)
    if (Result.isFailure(built)) return
    const w = expectedClaimWeight(input(50_000n), p2wshScript(script))
    expect(built.success.fee).toBe(BigInt(Math.ceil((2_500 * w) / 1000)))
    expect(built.success.tx.outputs[0]?.value).toBe(50_000n - built.success.fee)
    expect(built.success.tx.inputs[0]?.sequence).toBe(144)
    // A real (low-S, 70-72 byte DER) signature weighs at most what was priced.
    const signed = finalizeClaim(built.success.tx, input(50_000n), new Uint8Array(64).fill(0x11))
    expect(weight(signed)).toBeLessThanOrEqual(w)
    expect(weight(setWitness(signed, 0, []))).toBeLessThan(w)
  })

  it("refuses a claim whose output would be dust after its fee", () => {
    const r = buildClaimTransaction(input(1_000n), p2wshScript(script), 5_000)
    expect(Result.isFailure(r) && r.failure._tag).toBe("ClaimTooSmall")
    const ok = buildClaimTransaction(input(CLAIM_DUST_LIMIT + 1_000n), p2wshScript(script), 253)
    expect(Result.isSuccess(ok)).toBe(true)
  })
})
