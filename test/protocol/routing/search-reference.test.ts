/**
 * The route search against its reference (./reference/: the request layout and search as they
 * were before the search kept its state between requests and took exclusions as lists): the
 * same request over the same graph gives the same answer, route for route and failure for
 * failure. The graphs are full of ties (a few policies shared by every channel, as in the
 * simulation), where which of the equally cheap paths comes out depends on the exact order of
 * the search; each graph answers many requests in a row, so state left over from one request
 * would show in the next.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import fc from "fast-check"
import { toHex } from "../../../src/protocol/bytes.ts"
import {
  buildRoutingGraph,
  type ChannelInfo,
  type DirectionPolicy,
  type EdgeScorer,
  findRoute,
  type FirstHop,
  type GraphView,
  LiquidityModel,
  type NoRoute,
  prepareRequest,
  type Route,
  type RouteRequest,
  type RoutingGraph,
  zeroPenalty
} from "../../../src/protocol/routing/index.ts"
import { msat } from "../../../src/protocol/units.ts"
import { channel, nodeId, scid } from "./fixtures.ts"
import { prepareRequest as prepareReference } from "./reference/request.ts"
import { findRoute as findReference } from "./reference/search.ts"

/** A small deterministic generator (xorshift32), so one integer seed makes a whole case. */
const prng = (seed: number) => {
  let s = seed >>> 0 || 1
  const next = (): number => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return s
  }
  return {
    int: (n: number): number => next() % n,
    chance: (p: number): boolean => next() / 2 ** 32 < p,
    /** Log-uniform in [lo, hi]. */
    logUniform: (lo: number, hi: number): number => Math.round(lo * Math.pow(hi / lo, next() / 2 ** 32))
  }
}
type Prng = ReturnType<typeof prng>

const policyOf = (r: Prng, shared: ReadonlyArray<DirectionPolicy>): DirectionPolicy | undefined => {
  if (r.chance(0.05)) return undefined
  const p = shared[r.int(shared.length)]
  if (p === undefined) return undefined
  // Now and then a channel with its own limits (htlc minimum or maximum in play).
  if (r.chance(0.1)) return { ...p, htlcMinimumMsat: BigInt(r.logUniform(1, 50_000_000)) }
  if (r.chance(0.1)) return { ...p, htlcMaximumMsat: BigInt(r.logUniform(1_000_000, 2_000_000_000)) }
  if (r.chance(0.02)) return { ...p, enabled: false }
  return p
}

interface Case {
  readonly n: number
  readonly channels: ReadonlyArray<ChannelInfo>
  /** Per node, the channels it is an end of (index into `channels`, the other end). */
  readonly adjacency: ReadonlyArray<ReadonlyArray<{ readonly index: number; readonly other: number; readonly capacitySat: number }>>
}

/** A preferential-attachment graph (hubs and leaves, like the simulation's) with `shared` policies. */
const graphOf = (r: Prng, n: number, perNode: number, shared: ReadonlyArray<DirectionPolicy>): Case => {
  const channels: Array<ChannelInfo> = []
  const adjacency: Array<Array<{ index: number; other: number; capacitySat: number }>> = Array.from({ length: n + 1 }, () => [])
  const pairs = new Set<number>()
  const ends: Array<number> = []
  const add = (a: number, b: number) => {
    if (a === b || pairs.has(a * 100_000 + b) || pairs.has(b * 100_000 + a)) return
    pairs.add(a * 100_000 + b)
    const capacitySat = r.logUniform(200_000, 16_000_000)
    const index = channels.length
    channels.push(channel(index, a, b, policyOf(r, shared), policyOf(r, shared), r.chance(0.05) ? undefined : capacitySat))
    adjacency[a]?.push({ index, other: b, capacitySat })
    adjacency[b]?.push({ index, other: a, capacitySat })
    ends.push(a, b)
  }
  for (let a = 1; a <= Math.min(n, perNode + 1); a++) for (let b = a + 1; b <= Math.min(n, perNode + 1); b++) add(a, b)
  for (let a = perNode + 2; a <= n; a++) for (let k = 0; k < perNode; k++) add(a, ends[r.int(ends.length)] ?? 1)
  return { n, channels, adjacency }
}

const sharedPolicies = (r: Prng): ReadonlyArray<DirectionPolicy> => {
  const count = 1 + r.int(3)
  return Array.from({ length: count }, () => ({
    feeBaseMsat: r.chance(0.2) ? 0 : r.int(3) * 500,
    feeProportionalMillionths: r.chance(0.2) ? 0 : r.int(3) * 100,
    cltvExpiryDelta: 10 + r.int(3) * 30,
    htlcMinimumMsat: 1n,
    htlcMaximumMsat: 1n << 62n,
    enabled: true
  }))
}

/** A request as the payment layer makes them, now and then with every optional part in play. */
const requestOf = (r: Prng, c: Case): RouteRequest => {
  const payer = 1 + r.int(c.n)
  let payee = 1 + r.int(c.n)
  if (payee === payer) payee = (payer % c.n) + 1
  // A private payee behind route hints, now and then.
  const privatePayee = r.chance(0.1)
  const firstHops: Array<FirstHop> | undefined = r.chance(0.8)
    ? (c.adjacency[payer] ?? []).filter(() => r.chance(0.9)).map((x) => ({
      channelId: new Uint8Array(32).fill(x.index & 0xff),
      shortChannelId: scid(x.index),
      counterpartyNodeId: nodeId(x.other),
      outboundMsat: msat(BigInt(r.int(x.capacitySat) * 1000)),
      htlcMinimumMsat: msat(BigInt(r.chance(0.1) ? r.logUniform(1, 10_000_000) : 1))
    }))
    : undefined
  const hints = privatePayee || r.chance(0.05)
    ? Array.from({ length: 1 + r.int(2) }, (_, i) => [
      { pubkey: nodeId(1 + r.int(c.n)), shortChannelId: scid(50_000 + i), feeBaseMsat: r.int(2000), feeProportionalMillionths: r.int(500), cltvExpiryDelta: r.int(100) }
    ])
    : []
  const amount = r.logUniform(1_000, 4_000_000_000)
  const someChannel = () => c.channels[r.int(c.channels.length)]
  const excludedChannels = r.chance(0.2)
    ? Array.from({ length: 1 + r.int(4) }, () => {
      const ch = someChannel()
      return ch === undefined ? { shortChannelId: scid(0) } : { shortChannelId: ch.shortChannelId, ...(r.chance(0.5) ? { sourceNodeId: r.chance(0.5) ? ch.node1 : ch.node2 } : {}) }
    })
    : []
  const excludedNodes = r.chance(0.15) ? Array.from({ length: 1 + r.int(3) }, () => nodeId(1 + r.int(c.n))).filter((id) => toHex(id) !== toHex(nodeId(payer)) && toHex(id) !== toHex(nodeId(payee))) : []
  const policyUpdates = r.chance(0.15)
    ? Array.from({ length: 1 + r.int(3) }, () => {
      const ch = someChannel()
      const direction = r.chance(0.5) ? (0 as const) : (1 as const)
      return {
        shortChannelId: ch?.shortChannelId ?? scid(0),
        direction,
        sourceNodeId: (direction === 0 ? ch?.node1 : ch?.node2) ?? nodeId(1),
        feeBaseMsat: r.int(5000),
        feeProportionalMillionths: r.int(1000),
        cltvExpiryDelta: r.int(200),
        htlcMinimumMsat: 1n,
        htlcMaximumMsat: BigInt(r.logUniform(1_000_000, 4_000_000_000)),
        disabled: r.chance(0.3)
      }
    })
    : []
  return {
    payer: nodeId(payer),
    payee: privatePayee ? nodeId(c.n + 1 + r.int(3)) : nodeId(payee),
    amountMsat: msat(BigInt(amount)),
    currentHeight: 1000,
    finalCltvExpiryDelta: 18 + r.int(30),
    ...(r.chance(0.9) ? { maxFeeMsat: msat(BigInt(Math.floor(amount / (r.chance(0.5) ? 100 : 1000)) + r.int(3000))) } : {}),
    ...(r.chance(0.5) ? { maxTotalCltvExpiryDelta: r.chance(0.5) ? 1008 : 60 + r.int(300) } : {}),
    ...(r.chance(0.3) ? { maxHops: 1 + r.int(6) } : {}),
    ...(r.chance(0.3) ? { maxParts: 1 + r.int(8) } : {}),
    ...(r.chance(0.2) ? { minShardMsat: msat(BigInt(r.logUniform(1_000, 100_000_000))) } : {}),
    ...(firstHops === undefined ? {} : { firstHops }),
    routeHints: hints,
    excludedChannels,
    excludedNodes,
    policyUpdates,
    payeeFeatures: r.chance(0.7) ? [8, 14, 17] : [8, 14]
  }
}

/** A scorer of arbitrary penalties (a hash of edge and amount), now and then forbidding or (unbounded) negative. */
const hashScorer = (salt: number, negative: boolean): EdgeScorer => ({
  ...(negative ? {} : { minBasePenaltyMsat: 0 }),
  penaltyMsat: (edge, amount) => {
    const h = Math.imul(edge + 1, 0x9e3779b1) ^ Math.imul(Math.floor(amount / 1000) + salt, 0x85ebca6b)
    const x = (h >>> 0) % 4000
    if (x < 40) return Infinity
    return negative && x < 400 ? -x : x
  }
})

/** The scorers a case is routed with: each is made per request over that request's view. */
const scorersOf = (r: Prng, c: Case): ReadonlyArray<{ readonly name: string; readonly make: (view: GraphView) => EdgeScorer }> => {
  const model = new LiquidityModel()
  for (let i = 0; i < 30; i++) {
    const ch = c.channels[r.int(c.channels.length)]
    if (ch === undefined) continue
    const hop = { shortChannelId: ch.shortChannelId, direction: r.chance(0.5) ? (0 as const) : (1 as const), amountMsat: msat(BigInt(r.logUniform(1000, 1_000_000_000))), capacityMsat: Number(ch.capacityMsat ?? 0n) || Infinity }
    if (r.chance(0.5)) model.pathSucceeded([hop], 0)
    else model.pathFailed([hop], 0, r.chance(0.2), 0)
  }
  const salt = r.int(1000)
  return [
    { name: "zero", make: () => zeroPenalty },
    { name: "probabilistic", make: (view) => model.edgeScorer(view, 1_000_000) },
    { name: "hash", make: () => hashScorer(salt, false) },
    { name: "hash, negative", make: () => hashScorer(salt, true) }
  ]
}

/** A result as plain data (node ids and channel ids as hex, amounts as strings). */
const plain = (r: Result.Result<Route, NoRoute>): unknown =>
  Result.isFailure(r)
    ? { reason: r.failure.reason, detail: r.failure.detail }
    : JSON.stringify(r.success, (_, v: unknown) => (typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? toHex(v) : v))

/** Routes every request with both implementations; returns how many found a route and how many split. */
const compare = (graph: RoutingGraph, c: Case, r: Prng, requests: number): { routed: number; split: number } => {
  const scorers = scorersOf(r, c)
  let routed = 0
  let split = 0
  for (let i = 0; i < requests; i++) {
    const req = requestOf(r, c)
    const scorer = scorers[r.int(scorers.length)]
    if (scorer === undefined) continue
    const ours = prepareRequest(graph, req)
    const theirs = prepareReference(graph, req)
    assert.strictEqual(Result.isSuccess(ours), Result.isSuccess(theirs))
    if (Result.isFailure(ours) || Result.isFailure(theirs)) {
      if (Result.isFailure(ours) && Result.isFailure(theirs)) assert.deepStrictEqual(ours.failure.detail, theirs.failure.detail)
      continue
    }
    const a = findRoute(ours.success, scorer.make(ours.success))
    const b = findReference(theirs.success, scorer.make(theirs.success))
    assert.deepStrictEqual(plain(a), plain(b), `request ${i} (${scorer.name})`)
    if (Result.isSuccess(a)) {
      routed++
      if (a.success.paths.length > 1) split++
    }
  }
  return { routed, split }
}

describe("findRoute returns what the reference search returns", () => {
  it("on small random graphs full of ties, many requests per graph", () => {
    let routed = 0
    let split = 0
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 3, max: 60 }), fc.integer({ min: 1, max: 4 }), (seed, n, perNode) => {
        const r = prng(seed)
        const c = graphOf(r, n, perNode, sharedPolicies(r))
        const counts = compare(buildRoutingGraph(c.channels), c, r, 40)
        routed += counts.routed
        split += counts.split
      }),
      { numRuns: 150, seed: 16 }
    )
    assert.isAbove(routed, 2000)
    assert.isAbove(split, 30)
  })

  it("on graphs larger than the search's first arrays, and after a smaller graph", () => {
    for (const [seed, n] of [[3, 400], [5, 2500], [7, 30], [11, 1500]] as const) {
      const r = prng(seed)
      const c = graphOf(r, n, 3, sharedPolicies(r))
      const { routed } = compare(buildRoutingGraph(c.channels), c, r, 150)
      assert.isAbove(routed, 50)
    }
  })
})
