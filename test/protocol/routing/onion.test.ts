import { assert, describe, it } from "@effect/vitest"
import { sha256 } from "@noble/hashes/sha2.js"
import { Result } from "effect"
import { compareBytes } from "../../../src/protocol/bytes.ts"
import { buildPaymentOnion, processPaymentOnion } from "../../../src/protocol/onion/index.ts"
import { type ChannelInfo, forwardingFeeBig, type Path, pathOnionHops } from "../../../src/protocol/routing/index.ts"
import { msat } from "../../../src/protocol/units.ts"
import { NODES, secp, sessionKeyOf } from "../onion/fixtures.ts"
import { policy, route, scid } from "./fixtures.ts"

// A chain 0 -> 1 -> 2 -> 3 and 0 -> 4 -> 3 over real node keys, so the onions can be peeled.
const key = (i: number) => NODES[i]?.publicKey ?? new Uint8Array(33)
const link = (index: number, a: number, b: number, fee: number, delta: number): ChannelInfo => {
  const ab = policy({ feeBaseMsat: fee, feeProportionalMillionths: fee, cltvExpiryDelta: delta, htlcMaximumMsat: 60_000_000n })
  const aFirst = compareBytes(key(a), key(b)) < 0
  return {
    shortChannelId: scid(index),
    node1: aFirst ? key(a) : key(b),
    node2: aFirst ? key(b) : key(a),
    capacityMsat: 1_000_000_000n,
    oneToTwo: aFirst ? ab : policy(),
    twoToOne: aFirst ? policy() : ab
  }
}
const channels = [link(1, 0, 1, 100, 40), link(2, 1, 2, 200, 80), link(3, 2, 3, 300, 144), link(4, 0, 4, 900, 34), link(5, 4, 3, 900, 34)]
const policyOf = (scidValue: bigint, from: Uint8Array) => {
  const c = channels.find((x) => x.shortChannelId === scidValue)
  return c === undefined ? undefined : compareBytes(c.node1, from) === 0 ? c.oneToTwo : c.twoToOne
}

/** Sends the path's onion hop by hop, each node peeling its layer and checking its policy. */
const deliver = (path: Path, paymentHash: Uint8Array, secret: Uint8Array, totalMsat: bigint) => {
  const built = buildPaymentOnion(secp, sessionKeyOf(1), pathOnionHops(path, { paymentSecret: secret, totalMsat: msat(totalMsat) }), paymentHash)
  assert.isTrue(Result.isSuccess(built))
  if (Result.isFailure(built)) return
  let onion = built.success.onion
  path.hops.forEach((hop, i) => {
    const node = NODES.find((n) => compareBytes(n.publicKey, hop.nodeId) === 0)
    assert.isDefined(node)
    if (node === undefined) return
    const out = processPaymentOnion(secp, node.ecdh, { onion, paymentHash, amountMsat: hop.amountMsat, cltvExpiry: hop.cltvExpiry })
    assert.isTrue(Result.isSuccess(out))
    if (Result.isFailure(out)) return
    const p = out.success
    const next = path.hops[i + 1]
    if (next === undefined) {
      assert.strictEqual(p._tag, "Receive")
      if (p._tag !== "Receive") return
      assert.strictEqual(p.amtToForward, path.amountMsat)
      assert.strictEqual(p.totalMsat, totalMsat)
      assert.deepStrictEqual(p.paymentSecret, secret)
      return
    }
    assert.strictEqual(p._tag, "Forward")
    if (p._tag !== "Forward") return
    // The forwarding node's checks (BOLT 4/7): the fee and delta it asks for on that channel.
    const pol = policyOf(p.shortChannelId, hop.nodeId)
    assert.isDefined(pol)
    if (pol === undefined) return
    assert.strictEqual(hop.amountMsat - p.amtToForward, forwardingFeeBig(BigInt(pol.feeBaseMsat), BigInt(pol.feeProportionalMillionths), p.amtToForward))
    assert.strictEqual(hop.cltvExpiry - p.outgoingCltvValue, pol.cltvExpiryDelta)
    assert.strictEqual(p.amtToForward, next.amountMsat)
    assert.strictEqual(p.outgoingCltvValue, next.cltvExpiry)
    assert.strictEqual(p.shortChannelId, next.shortChannelId)
    onion = p.nextOnion
  })
}

describe("pathOnionHops", () => {
  const paymentHash = sha256(new Uint8Array([1, 2, 3]))
  const secret = new Uint8Array(32).fill(7)
  const base = { payer: key(0), payee: key(3), currentHeight: 850_000, finalCltvExpiryDelta: 18 }

  it("gives every node of the path the payload it needs, through a real onion", () => {
    const r = route(channels, { ...base, amountMsat: msat(50_000_000n) })
    assert.isTrue(Result.isSuccess(r))
    if (Result.isFailure(r)) return
    assert.strictEqual(r.success.paths[0].hops.length, 3)
    deliver(r.success.paths[0], paymentHash, secret, 50_000_000n)
  })

  it("gives each part of a split the total amount and the payment secret", () => {
    const r = route(channels, { ...base, amountMsat: msat(100_000_000n), payeeFeatures: [17], minShardMsat: msat(10_000_000n) })
    assert.isTrue(Result.isSuccess(r))
    if (Result.isFailure(r)) return
    assert.isAbove(r.success.paths.length, 1)
    for (const path of r.success.paths) deliver(path, paymentHash, secret, 100_000_000n)
  })

  it("carries keysend's custom record and metadata in the final payload only", () => {
    const r = route(channels, { ...base, amountMsat: msat(1_000_000n) })
    if (Result.isFailure(r)) return assert.fail("no route")
    const record = { type: 5482373484n, value: new Uint8Array(32).fill(9) }
    const hops = pathOnionHops(r.success.paths[0], { customRecords: [record], paymentMetadata: new Uint8Array([1]) })
    assert.deepStrictEqual(hops[hops.length - 1]?.payload.customRecords, [record])
    assert.deepStrictEqual(hops[hops.length - 1]?.payload.paymentMetadata, new Uint8Array([1]))
    assert.isUndefined(hops[hops.length - 1]?.payload.paymentData)
    assert.isUndefined(hops[0]?.payload.customRecords)
  })
})
