/**
 * A simulation scenario as data: one Schema, so a JSON file (`npm run sim -- FILE`) and a
 * TypeScript value go through the same checks. A scenario names
 *
 * - the nodes (how many, their forwarding policy and channel limits, with per-node overrides),
 * - the channels (explicit ones, and generators: ring, random, hubs, scale-free), each with a
 *   capacity and what the opener pushes to the other side (the initial balances),
 * - the payment workload (a count or a rate, an amount distribution, who pays whom: uniform,
 *   fixed pairs, or towards hubs),
 * - the network (per-link latency distributions, reordering, message loss that drops the
 *   connection, reconnection delays),
 * - the chain (blocks mined at a rate),
 * - and faults in time: partitions, node crashes (at a time or at random persistence points) and
 *   restarts, late persistence (monitor updates `InProgress` for a while), reorgs, fee spikes.
 *
 * Times are simulated seconds from the start of the workload. Amounts are in msat (or sat where
 * the name says so). Every random choice is drawn from the run's seed (`Random.ts`).
 */
import { Schema } from "effect"

const NonNegative = Schema.Number.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))
const Positive = Schema.Number.pipe(Schema.check(Schema.isGreaterThan(0)))
const Probability = Schema.Number.pipe(Schema.check(Schema.isBetween({ minimum: 0, maximum: 1 })))
const Count = Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))
const NodeIndex = Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))

/** A distribution of numbers (latencies in ms, amounts in msat, capacities in sat...). */
export const DistributionSchema = Schema.Union([
  Schema.Struct({ kind: Schema.Literal("constant"), value: Schema.Number }),
  Schema.Struct({ kind: Schema.Literal("uniform"), min: Schema.Number, max: Schema.Number }),
  Schema.Struct({ kind: Schema.Literal("exponential"), mean: Positive }),
  Schema.Struct({ kind: Schema.Literal("normal"), mean: Schema.Number, stddev: NonNegative, min: Schema.optionalKey(Schema.Number) }),
  /** Heavy-tailed sizes: most payments small, a few large (the realistic mix). */
  Schema.Struct({
    kind: Schema.Literal("lognormal"),
    median: Positive,
    sigma: NonNegative,
    min: Schema.optionalKey(NonNegative),
    max: Schema.optionalKey(Positive)
  }),
  Schema.Struct({
    kind: Schema.Literal("choice"),
    values: Schema.Array(Schema.Number).pipe(Schema.check(Schema.isMinLength(1))),
    weights: Schema.optionalKey(Schema.Array(NonNegative))
  })
])
export type Distribution = typeof DistributionSchema.Type

/** BOLT 7 forwarding policy of a node (every channel of it). */
export const ForwardingSchema = Schema.Struct({
  feeBaseMsat: Schema.optionalKey(Count),
  feeProportionalMillionths: Schema.optionalKey(Count),
  cltvExpiryDelta: Schema.optionalKey(Count),
  htlcMinimumMsat: Schema.optionalKey(Count),
  htlcMaximumMsat: Schema.optionalKey(Count)
})
export type Forwarding = typeof ForwardingSchema.Type

/** BOLT 2 limits a node announces for its side of its channels. */
export const ChannelLimitsSchema = Schema.Struct({
  maxAcceptedHtlcs: Schema.optionalKey(Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 1, maximum: 483 })))),
  /** `max_htlc_value_in_flight_msat` as a share of the capacity, in basis points. */
  maxHtlcValueInFlightBasisPoints: Schema.optionalKey(Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 1, maximum: 10_000 })))),
  htlcMinimumMsat: Schema.optionalKey(Count),
  toSelfDelay: Schema.optionalKey(Count),
  dustLimitSat: Schema.optionalKey(Count)
})
export type ChannelLimits = typeof ChannelLimitsSchema.Type

export const NodeConfigSchema = Schema.Struct({
  forwarding: Schema.optionalKey(ForwardingSchema),
  channel: Schema.optionalKey(ChannelLimitsSchema)
})
export type NodeConfig = typeof NodeConfigSchema.Type

export const NodesSchema = Schema.Struct({
  count: Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(2))),
  defaults: Schema.optionalKey(NodeConfigSchema),
  overrides: Schema.optionalKey(Schema.Array(Schema.Struct({ node: NodeIndex, config: NodeConfigSchema })))
})

/** What the opener pushes to the other side: an amount, or a fraction of the capacity. */
const Push = {
  pushMsat: Schema.optionalKey(Count),
  pushFraction: Schema.optionalKey(Probability)
}

export const ChannelSpecSchema = Schema.Union([
  /** One channel `a -> b` (opened and funded by `a`). */
  Schema.Struct({ kind: Schema.Literal("channel"), a: NodeIndex, b: NodeIndex, capacitySat: Positive, ...Push }),
  /** Node i opens to node i+1 (mod n). */
  Schema.Struct({ kind: Schema.Literal("ring"), capacitySat: DistributionSchema, ...Push }),
  /** `count` channels between random pairs (after a ring, when `connected`, so the graph is connected). */
  Schema.Struct({
    kind: Schema.Literal("random"),
    count: Count,
    capacitySat: DistributionSchema,
    connected: Schema.optionalKey(Schema.Boolean),
    ...Push
  }),
  /** Nodes 0..hubs-1 are hubs: meshed together; every other node opens `perSpoke` channels to random hubs. */
  Schema.Struct({
    kind: Schema.Literal("hubs"),
    hubs: Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(1))),
    perSpoke: Schema.optionalKey(Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(1)))),
    capacitySat: DistributionSchema,
    hubCapacitySat: Schema.optionalKey(DistributionSchema),
    ...Push
  }),
  /** Preferential attachment: each node after the first `perNode + 1` opens `perNode` channels, to nodes chosen by degree. */
  Schema.Struct({
    kind: Schema.Literal("scaleFree"),
    perNode: Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(1))),
    capacitySat: DistributionSchema,
    ...Push
  })
])
export type ChannelSpec = typeof ChannelSpecSchema.Type

/** Who pays whom. */
export const PairsSchema = Schema.Union([
  Schema.Struct({ kind: Schema.Literal("uniform") }),
  Schema.Struct({ kind: Schema.Literal("pairs"), pairs: Schema.Array(Schema.Tuple([NodeIndex, NodeIndex])).pipe(Schema.check(Schema.isMinLength(1))) }),
  /** Payees are the first `hubs` nodes with probability `hubShare` (merchants), anyone otherwise. */
  Schema.Struct({ kind: Schema.Literal("hubs"), hubs: Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(1))), hubShare: Probability })
])

export const WorkloadSchema = Schema.Struct({
  /** How many payments (spread over `durationSeconds`, or at `ratePerSecond`). */
  payments: Count,
  /** Payments per simulated second (Poisson arrivals); default: `payments` spread over `durationSeconds`. */
  ratePerSecond: Schema.optionalKey(Positive),
  durationSeconds: Schema.optionalKey(Positive),
  amountMsat: DistributionSchema,
  pairs: PairsSchema,
  /** A payment gives up after this long (default 60 s). */
  timeoutSeconds: Schema.optionalKey(Positive),
  /** The most a payment may pay in fees, in parts per million of its amount (default 10,000 = 1%, plus 1 sat). */
  maxFeePpm: Schema.optionalKey(Count)
})
export type Workload = typeof WorkloadSchema.Type

export const LinkOverrideSchema = Schema.Struct({
  a: NodeIndex,
  b: NodeIndex,
  latencyMs: Schema.optionalKey(DistributionSchema),
  reorder: Schema.optionalKey(Probability),
  loss: Schema.optionalKey(Probability)
})

export const NetworkSchema = Schema.Struct({
  /** One-way delivery time of a message (default: constant 50 ms). */
  latencyMs: Schema.optionalKey(DistributionSchema),
  /**
   * Probability that a message is not held behind the earlier ones of its link (delivered when
   * its own latency says). Our connections are TCP: a message that overtakes another is a gap
   * the receiver treats as a protocol violation, so this fault is meant to be rare.
   */
  reorder: Schema.optionalKey(Probability),
  /** Probability a message is lost; a loss drops the connection (TCP would not lose it silently). */
  loss: Schema.optionalKey(Probability),
  /** How long after a drop the peers reconnect (default: constant 1000 ms). */
  reconnectMs: Schema.optionalKey(DistributionSchema),
  links: Schema.optionalKey(Schema.Array(LinkOverrideSchema))
})

export const ChainSchema = Schema.Struct({
  /** Mean seconds between blocks (exponential; default 600). */
  blockIntervalSeconds: Schema.optionalKey(Positive),
  startHeight: Schema.optionalKey(Count),
  /** Feerate before any spike (sat per 1000 weight, default 2500). */
  feeratePerKw: Schema.optionalKey(Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(253))))
})

const Window = { fromSeconds: NonNegative, toSeconds: NonNegative }

export const FaultSchema = Schema.Union([
  /** The nodes of `side` (or a random `fraction` of all) cannot reach the others in the window. */
  Schema.Struct({
    kind: Schema.Literal("partition"),
    side: Schema.optionalKey(Schema.Array(NodeIndex)),
    fraction: Schema.optionalKey(Probability),
    ...Window
  }),
  /** The node dies at a time; it comes back from its store after `restartAfterSeconds` (never if absent). */
  Schema.Struct({ kind: Schema.Literal("crash"), node: NodeIndex, atSeconds: NonNegative, restartAfterSeconds: Schema.optionalKey(NonNegative) }),
  /**
   * `count` crashes of random nodes at random persistence points: at a random time in the
   * window, a node is armed to die at one of its next few persist calls, before or after the
   * write lands; it restarts after `restartAfterSeconds`.
   */
  Schema.Struct({
    kind: Schema.Literal("crashAtPersist"),
    count: Count,
    nodes: Schema.optionalKey(Schema.Array(NodeIndex)),
    restartAfterSeconds: NonNegative,
    ...Window
  }),
  /** The nodes' monitor writes answer `InProgress` in the window and complete after `delayMs`. */
  Schema.Struct({ kind: Schema.Literal("latePersistence"), nodes: Schema.optionalKey(Schema.Array(NodeIndex)), delayMs: DistributionSchema, ...Window }),
  /** The last `depth` blocks are replaced by `depth + 1` new ones. */
  Schema.Struct({ kind: Schema.Literal("reorg"), atSeconds: NonNegative, depth: Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(1))) }),
  /** The fee estimate jumps for a while: funders send `update_fee` up, then down again. */
  Schema.Struct({
    kind: Schema.Literal("feeSpike"),
    atSeconds: NonNegative,
    durationSeconds: Positive,
    feeratePerKw: Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(253)))
  }),
  /** One connection drops at a time (the peers reconnect after the network's reconnect delay). */
  Schema.Struct({ kind: Schema.Literal("disconnect"), a: NodeIndex, b: NodeIndex, atSeconds: NonNegative })
])
export type Fault = typeof FaultSchema.Type

export const ScenarioSchema = Schema.Struct({
  name: Schema.String,
  description: Schema.optionalKey(Schema.String),
  nodes: NodesSchema,
  channels: Schema.Array(ChannelSpecSchema),
  workload: WorkloadSchema,
  network: Schema.optionalKey(NetworkSchema),
  chain: Schema.optionalKey(ChainSchema),
  faults: Schema.optionalKey(Schema.Array(FaultSchema)),
  /** Invariant checks at quiescent points every this many simulated seconds (default 10; 0: only at the end). */
  checkEverySeconds: Schema.optionalKey(NonNegative)
})
export type Scenario = typeof ScenarioSchema.Type

/** Decodes a scenario (parsed JSON or a TypeScript value); fails with the Schema's error. */
export const decodeScenario = Schema.decodeUnknownResult(ScenarioSchema)

/** Decodes a scenario from JSON text. */
export const decodeScenarioJson = Schema.decodeUnknownResult(Schema.fromJsonString(ScenarioSchema))

/** A scenario's faults by kind (for the summary and for explaining force closes). */
export const faultKinds = (s: Scenario): ReadonlySet<string> => {
  const kinds = new Set<string>((s.faults ?? []).map((f) => f.kind))
  if ((s.network?.loss ?? 0) > 0 || (s.network?.links ?? []).some((l) => (l.loss ?? 0) > 0)) kinds.add("loss")
  if ((s.network?.reorder ?? 0) > 0 || (s.network?.links ?? []).some((l) => (l.reorder ?? 0) > 0)) kinds.add("reorder")
  return kinds
}
