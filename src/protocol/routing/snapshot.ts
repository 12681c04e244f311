/**
 * The public-graph snapshot format (`ln-graph-*.json`, see the benchmark data's README): node
 * ids by index, and per channel `[chan_index, node_a, node_b, capacity_sat, dir_a_to_b,
 * dir_b_to_a]`, each direction `[fee_base_msat, fee_proportional_millionths, cltv_expiry_delta,
 * htlc_minimum_msat, htlc_maximum_msat, enabled]` as published by its source node. The format
 * has no real short channel ids; `chan_index` stands in for one (block 0). Node indices are the
 * snapshot's.
 */
import { Data, Result } from "effect"
import { compareBytes, fromHex } from "../bytes.ts"
import { shortChannelIdFromParts } from "../codec/fields.ts"
import { buildRoutingGraph, type ChannelInfo, type DirectionPolicy, type RoutingGraph } from "./graph.ts"

export class InvalidSnapshot extends Data.TaggedError("InvalidSnapshot")<{ readonly detail: string }> {}

const isNat = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0

const policyOf = (v: unknown): DirectionPolicy | undefined | InvalidSnapshot => {
  if (!Array.isArray(v) || v.length !== 6 || !v.every(isNat)) return new InvalidSnapshot({ detail: "bad direction" })
  const [base, ppm, cltv, min, max, enabled] = v
  if (enabled === 0) return undefined
  return {
    feeBaseMsat: base ?? 0,
    feeProportionalMillionths: ppm ?? 0,
    cltvExpiryDelta: cltv ?? 0,
    htlcMinimumMsat: BigInt(min ?? 0),
    htlcMaximumMsat: BigInt(max ?? 0),
    enabled: true
  }
}

const HEX_KEY = /^0[23][0-9a-f]{64}$/

/** Reads a parsed snapshot (the JSON value) into a routing graph. */
export const graphFromSnapshot = (json: unknown): Result.Result<RoutingGraph, InvalidSnapshot> => {
  if (typeof json !== "object" || json === null || !("node_ids" in json) || !("channels" in json)) {
    return Result.fail(new InvalidSnapshot({ detail: "expected node_ids and channels" }))
  }
  const ids = json.node_ids
  const channels = json.channels
  if (!Array.isArray(ids) || !Array.isArray(channels)) return Result.fail(new InvalidSnapshot({ detail: "not arrays" }))
  const nodes: Array<Uint8Array> = []
  for (const id of ids) {
    if (typeof id !== "string" || !HEX_KEY.test(id)) return Result.fail(new InvalidSnapshot({ detail: `bad node id ${String(id)}` }))
    nodes.push(fromHex(id))
  }
  const out: Array<ChannelInfo> = []
  for (const c of channels) {
    if (!Array.isArray(c) || c.length !== 6) return Result.fail(new InvalidSnapshot({ detail: "bad channel" }))
    const [index, a, b, capacitySat, ab, ba] = c
    if (!isNat(index) || !isNat(a) || !isNat(b) || !isNat(capacitySat) || index >= 2 ** 40) {
      return Result.fail(new InvalidSnapshot({ detail: "bad channel fields" }))
    }
    const nodeA = nodes[a]
    const nodeB = nodes[b]
    if (nodeA === undefined || nodeB === undefined || a === b) return Result.fail(new InvalidSnapshot({ detail: "bad node index" }))
    const pab = policyOf(ab)
    const pba = policyOf(ba)
    if (pab instanceof InvalidSnapshot) return Result.fail(pab)
    if (pba instanceof InvalidSnapshot) return Result.fail(pba)
    const aFirst = compareBytes(nodeA, nodeB) < 0
    out.push({
      shortChannelId: shortChannelIdFromParts(0, Math.floor(index / 65536), index % 65536),
      node1: aFirst ? nodeA : nodeB,
      node2: aFirst ? nodeB : nodeA,
      capacityMsat: BigInt(capacitySat) * 1000n,
      oneToTwo: aFirst ? pab : pba,
      twoToOne: aFirst ? pba : pab
    })
  }
  return Result.succeed(buildRoutingGraph(out, nodes))
}
