/**
 * Test graphs and an independent route checker: it re-derives every rule from the channel list
 * (not from the router's graph) and checks each path as the forwarding nodes would, through the
 * onion payloads themselves (encoded, decoded and validated by the BOLT 4 code).
 */
import { Result } from "effect"
import { compareBytes, toHex } from "../../../src/protocol/bytes.ts"
import { type ShortChannelId, shortChannelIdFromParts } from "../../../src/protocol/codec/fields.ts"
import { decodeHopPayload, encodeHopPayload, validateHopPayload } from "../../../src/protocol/onion/index.ts"
import {
  buildRoutingGraph,
  type ChannelInfo,
  type DirectionPolicy,
  findRoute,
  forwardingFeeBig,
  pathOnionHops,
  prepareRequest,
  type NoRoute,
  type Route,
  type RouteRequest,
  RouteDefaults,
  type EdgeScorer,
  zeroPenalty
} from "../../../src/protocol/routing/index.ts"

/** A valid-looking 33-byte node id whose byte order follows `i`. */
export const nodeId = (i: number): Uint8Array => {
  const id = new Uint8Array(33)
  id[0] = 2
  id[29] = (i >>> 24) & 0xff
  id[30] = (i >>> 16) & 0xff
  id[31] = (i >>> 8) & 0xff
  id[32] = i & 0xff
  return id
}

export const scid = (i: number): ShortChannelId => shortChannelIdFromParts(100 + i, i % 7, i % 3)

export const policy = (p: Partial<Omit<DirectionPolicy, "htlcMinimumMsat" | "htlcMaximumMsat">> & {
  readonly htlcMinimumMsat?: bigint
  readonly htlcMaximumMsat?: bigint
} = {}): DirectionPolicy => ({
  feeBaseMsat: p.feeBaseMsat ?? 1000,
  feeProportionalMillionths: p.feeProportionalMillionths ?? 100,
  cltvExpiryDelta: p.cltvExpiryDelta ?? 40,
  htlcMinimumMsat: p.htlcMinimumMsat ?? 1n,
  htlcMaximumMsat: p.htlcMaximumMsat ?? 10_000_000_000n,
  enabled: p.enabled ?? true
})

/** A channel between nodes `a` and `b` (indices), `ab` being the policy of a's direction. */
export const channel = (
  index: number,
  a: number,
  b: number,
  ab: DirectionPolicy | undefined,
  ba: DirectionPolicy | undefined,
  capacitySat?: number
): ChannelInfo => {
  const [na, nb] = [nodeId(a), nodeId(b)]
  const aFirst = compareBytes(na, nb) < 0
  return {
    shortChannelId: scid(index),
    node1: aFirst ? na : nb,
    node2: aFirst ? nb : na,
    capacityMsat: capacitySat === undefined ? undefined : BigInt(capacitySat) * 1000n,
    oneToTwo: aFirst ? ab : ba,
    twoToOne: aFirst ? ba : ab
  }
}

/** Runs the pure router over a channel list (no Effect). */
export const route = (
  channels: ReadonlyArray<ChannelInfo>,
  req: RouteRequest,
  scorer: EdgeScorer = zeroPenalty
): Result.Result<Route, NoRoute> => {
  const rg = prepareRequest(buildRoutingGraph(channels), req)
  if (Result.isFailure(rg)) return Result.fail(rg.failure)
  return findRoute(rg.success, scorer)
}

interface DirectedPolicy {
  readonly policy: DirectionPolicy
  readonly capacityMsat: bigint | undefined
}

/**
 * Every rule a route must satisfy. Returns the list of violations (empty when the route is good).
 */
export const violations = (channels: ReadonlyArray<ChannelInfo>, req: RouteRequest, r: Route): Array<string> => {
  const out: Array<string> = []
  const bad = (s: string) => out.push(s)
  // Policy of a channel direction, keyed "scid:source".
  const directed = new Map<string, DirectedPolicy>()
  for (const c of channels) {
    if (c.oneToTwo !== undefined) directed.set(`${c.shortChannelId}:${toHex(c.node1)}:${toHex(c.node2)}`, { policy: c.oneToTwo, capacityMsat: c.capacityMsat })
    if (c.twoToOne !== undefined) directed.set(`${c.shortChannelId}:${toHex(c.node2)}:${toHex(c.node1)}`, { policy: c.twoToOne, capacityMsat: c.capacityMsat })
  }
  for (const hint of req.routeHints ?? []) {
    hint.forEach((h, j) => {
      const to = hint[j + 1]?.pubkey ?? req.payee
      directed.set(`${h.shortChannelId}:${toHex(h.pubkey)}:${toHex(to)}`, {
        policy: policy({
          feeBaseMsat: h.feeBaseMsat,
          feeProportionalMillionths: h.feeProportionalMillionths,
          cltvExpiryDelta: h.cltvExpiryDelta,
          htlcMinimumMsat: 0n,
          htlcMaximumMsat: 2n ** 62n
        }),
        capacityMsat: undefined
      })
    })
  }
  const firstHops = req.firstHops
  const excludedNodes = new Set((req.excludedNodes ?? []).map(toHex))
  const usedOnChannel = new Map<string, bigint>()
  const usedOnFirstHop = new Map<string, bigint>()
  let total = 0n
  let fees = 0n
  if (r.paths.length > (req.maxParts ?? RouteDefaults.maxParts)) bad("too many parts")
  const mpp = (req.payeeFeatures ?? []).some((b) => b === 16 || b === 17)
  if (r.paths.length > 1 && !mpp) bad("split without basic_mpp")
  r.paths.forEach((path, pi) => {
    const hops = path.hops
    const last = hops[hops.length - 1]
    if (last === undefined) return bad("empty path")
    if (toHex(last.nodeId) !== toHex(req.payee)) bad(`path ${pi} does not end at the payee`)
    if (last.amountMsat !== path.amountMsat) bad("last hop amount differs from the path amount")
    if (last.cltvExpiry !== req.currentHeight + req.finalCltvExpiryDelta) bad("final CLTV")
    if (hops.length > (req.maxHops ?? RouteDefaults.maxHops)) bad("too many hops")
    if (hops[0].cltvExpiry - req.currentHeight > (req.maxTotalCltvExpiryDelta ?? RouteDefaults.maxTotalCltvExpiryDelta)) bad("CLTV limit")
    if (path.feeMsat !== hops[0].amountMsat - path.amountMsat) bad("path fee")
    total += path.amountMsat
    fees += path.feeMsat
    // The first channel: one of ours (when given) or the payer's public channel.
    if (firstHops !== undefined) {
      const fh = firstHops.find((f) => f.shortChannelId === hops[0].shortChannelId && toHex(f.counterpartyNodeId) === toHex(hops[0].nodeId))
      if (fh === undefined || path.firstHop !== fh) bad(`path ${pi} does not start on one of our channels`)
      else {
        if (hops[0].amountMsat < fh.htlcMinimumMsat) bad("below our channel's htlc minimum")
        const key = toHex(fh.channelId)
        usedOnFirstHop.set(key, (usedOnFirstHop.get(key) ?? 0n) + hops[0].amountMsat)
        if ((usedOnFirstHop.get(key) ?? 0n) > fh.outboundMsat) bad("our channel's outbound liquidity exceeded")
      }
    }
    let prev = req.payer
    // Onion payloads, checked as each node would (BOLT 4 + BOLT 7 forwarding rules).
    const onion = pathOnionHops(path)
    hops.forEach((hop, i) => {
      if (excludedNodes.has(toHex(hop.nodeId)) && i < hops.length - 1) bad("excluded node used")
      for (const x of req.excludedChannels ?? []) {
        if (x.shortChannelId === hop.shortChannelId && (x.sourceNodeId === undefined || toHex(x.sourceNodeId) === toHex(prev))) bad("excluded channel used")
      }
      const isFirst = i === 0 && firstHops !== undefined
      if (!isFirst) {
        const d = directed.get(`${hop.shortChannelId}:${toHex(prev)}:${toHex(hop.nodeId)}`)
        if (d === undefined || !d.policy.enabled) bad(`hop ${i}: no usable channel ${hop.shortChannelId}`)
        else {
          if (hop.amountMsat < d.policy.htlcMinimumMsat) bad(`hop ${i}: below htlc_minimum_msat`)
          if (hop.amountMsat > d.policy.htlcMaximumMsat) bad(`hop ${i}: above htlc_maximum_msat`)
          const key = `${hop.shortChannelId}:${toHex(prev)}`
          usedOnChannel.set(key, (usedOnChannel.get(key) ?? 0n) + hop.amountMsat)
          if (d.capacityMsat !== undefined && (usedOnChannel.get(key) ?? 0n) > d.capacityMsat) bad(`hop ${i}: capacity exceeded`)
        }
      }
      const enc = encodeHopPayload(onion[i]?.payload ?? {})
      if (Result.isFailure(enc)) return bad(`hop ${i}: payload does not encode`)
      const dec = decodeHopPayload(enc.success)
      if (Result.isFailure(dec)) return bad(`hop ${i}: payload does not decode`)
      const isFinal = i === hops.length - 1
      const v = validateHopPayload(dec.success, isFinal, false)
      if (Result.isFailure(v)) return bad(`hop ${i}: payload invalid: ${v.failure.reason}`)
      const p = v.success
      if (isFinal) {
        if (p._tag !== "Receive") return bad("final payload is not a receive")
        if (p.amtToForward !== hop.amountMsat || p.outgoingCltvValue !== hop.cltvExpiry) bad("final payload differs from the HTLC")
        if (hop.feeMsat !== 0n || hop.cltvExpiryDelta !== 0) bad("payee fee/delta not zero")
      } else {
        if (p._tag !== "Forward") return bad(`hop ${i}: not a forward payload`)
        const next = hops[i + 1]
        if (next === undefined) return
        if (p.shortChannelId !== next.shortChannelId || p.amtToForward !== next.amountMsat || p.outgoingCltvValue !== next.cltvExpiry) {
          bad(`hop ${i}: payload differs from the next hop`)
        }
        const d = directed.get(`${p.shortChannelId}:${toHex(hop.nodeId)}:${toHex(next.nodeId)}`)
        if (d === undefined) return bad(`hop ${i}: forwards on an unknown channel`)
        const fee = forwardingFeeBig(BigInt(d.policy.feeBaseMsat), BigInt(d.policy.feeProportionalMillionths), p.amtToForward)
        // BOLT 7: exactly the fee (no overpayment), exactly the delta.
        if (hop.amountMsat !== p.amtToForward + fee) bad(`hop ${i}: fee ${hop.amountMsat - p.amtToForward} != ${fee}`)
        if (hop.cltvExpiry !== p.outgoingCltvValue + d.policy.cltvExpiryDelta) bad(`hop ${i}: CLTV delta`)
        if (hop.feeMsat !== fee || hop.cltvExpiryDelta !== d.policy.cltvExpiryDelta) bad(`hop ${i}: fee/delta fields`)
      }
      prev = hop.nodeId
    })
  })
  if (total !== req.amountMsat || r.amountMsat !== req.amountMsat) bad(`paths deliver ${total}, not ${req.amountMsat}`)
  if (fees !== r.feeMsat) bad("route fee is not the sum of path fees")
  if (req.maxFeeMsat !== undefined && fees > req.maxFeeMsat) bad("fee limit exceeded")
  return out
}
