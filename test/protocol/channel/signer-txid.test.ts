/**
 * A signer may give the txid of the counterparty commitment it signed (`CounterpartySignatures.txid`):
 * the `CounterpartyCommitment` monitor update then takes it, and the channel does not build that
 * commitment again. Given the txid the build makes, every output and monitor update is the same as
 * without it; a txid given is the one stored (nothing built in its place).
 */
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { ChannelOutputSchema, type SignerRequest, type SignerResult } from "../../../src/protocol/channel/io.ts"
import { MonitorUpdateSchema } from "../../../src/protocol/monitor/update.ts"
import { TxidSchema } from "../../../src/protocol/monitor/state.ts"
import { Node, Pair, preimageFor } from "./step-harness.ts"

type Txid = typeof TxidSchema.Type
const asTxid = Schema.decodeSync(TxidSchema)
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex")

/** A pair whose signer answers carry `txidFor(node, request)` (none when it gives undefined); every output recorded, encoded. */
class TxidPair extends Pair {
  readonly outputs: Array<string> = []
  readonly txidFor: (node: Node, request: Extract<SignerRequest, { _tag: "SignCounterpartyCommitment" }>) => Txid | undefined
  constructor(txidFor: (node: Node, request: Extract<SignerRequest, { _tag: "SignCounterpartyCommitment" }>) => Txid | undefined) {
    super(new Node("alice"), new Node("bob"))
    this.txidFor = txidFor
  }
  override answer(node: Node, request: SignerRequest): SignerResult {
    const r = super.answer(node, request)
    if (r._tag !== "CounterpartySignatures" || request._tag !== "SignCounterpartyCommitment") return r
    const txid = this.txidFor(node, request)
    return txid === undefined ? r : { ...r, txid }
  }
  override perform(node: Node, outputs: Parameters<Pair["perform"]>[1]): void {
    for (const o of outputs) this.outputs.push(`${node.name} ${JSON.stringify(Schema.encodeSync(ChannelOutputSchema)(o))}`)
    super.perform(node, outputs)
  }
}

/** Three HTLCs each way, settled, then fulfilled and failed: commitments with and without HTLC outputs. */
const run = (pair: TxidPair): void => {
  pair.open({ channelType: { name: "anchors_zero_fee_htlc_tx", scidAlias: false, zeroConf: false } })
  for (let i = 0; i < 3; i++) {
    pair.add(pair.a, 5_000_000n, `a${i}`)
    pair.add(pair.b, 3_000_000n, `b${i}`)
  }
  pair.settle()
  for (let i = 0; i < 3; i++) {
    pair.input(pair.b, { _tag: "FulfillHtlc", htlcId: BigInt(i), preimage: preimageFor(`a${i}`) })
    pair.input(pair.a, { _tag: "FailHtlc", htlcId: BigInt(i), reason: new Uint8Array(8) })
  }
  pair.settle()
}

const counterpartyTxids = (node: Node): Map<bigint, Txid> => {
  const m = new Map<bigint, Txid>()
  for (const u of node.updates) if (u._tag === "CounterpartyCommitment") m.set(u.commitment.commitmentNumber, u.commitment.txid)
  return m
}

describe("CounterpartySignatures.txid", () => {
  it("given as the build makes it: the same outputs and monitor updates as without", () => {
    const plain = new TxidPair(() => undefined)
    run(plain)
    const built = new Map([
      ["alice", counterpartyTxids(plain.a)],
      ["bob", counterpartyTxids(plain.b)]
    ])
    let given = 0
    const withTxid = new TxidPair((node, request) => {
      const txid = built.get(node.name)?.get(request.commitment.commitmentNumber)
      if (txid !== undefined) given++
      return txid
    })
    run(withTxid)
    // Every commitment_signed of normal operation signed with a txid given (not the first commitments, signed at funding).
    expect(given).toBeGreaterThanOrEqual(4)
    expect(withTxid.outputs).toStrictEqual(plain.outputs)
    for (const [p, q] of [
      [plain.a, withTxid.a],
      [plain.b, withTxid.b]
    ] as const)
      expect(q.updates.map((u) => Schema.encodeSync(MonitorUpdateSchema)(u))).toStrictEqual(p.updates.map((u) => Schema.encodeSync(MonitorUpdateSchema)(u)))
  })

  it("a txid given is the one the monitor update stores (the commitment is not built for it)", () => {
    const marker = asTxid(hex(new Uint8Array(32).fill(0xab)))
    const pair = new TxidPair((_, request) => (request.commitment.commitmentNumber === 1n ? marker : undefined))
    pair.open({ channelType: { name: "anchors_zero_fee_htlc_tx", scidAlias: false, zeroConf: false } })
    pair.add(pair.a, 5_000_000n, "x")
    pair.signNow(pair.a)
    const stored = pair.a.updates.filter((u) => u._tag === "CounterpartyCommitment")
    expect(stored.map((u) => (u._tag === "CounterpartyCommitment" ? hex(u.commitment.txid) : ""))).toStrictEqual([hex(marker)])
  })
})
