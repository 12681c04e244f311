/**
 * The node a trace is about, as data: its recipe (`start` record) and the commands the
 * application gave it (`command` records), so that replay can build the same node and give it
 * the same commands.
 *
 * A traced node is the channel node of the interop tests and the simulations: a `PeerManager`
 * (over the given `Transport`) and a `ChannelManager` (over the given `MonitorPersister`), its
 * node key and channel signer seed derived from the recipe's `seed` (test and simulation keys:
 * `seededNodeSigner`; a trace never holds a secret, so replaying needs the same seed), its
 * randomness, clock, connections and persistence from the services given (recording wrappers,
 * or the replay layers). Its events are recorded as `event` (and `broadcast`) records, each
 * command's answer as a `reply` record.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Cause, Clock, Effect, Exit, Fiber, Layer, Schema, type Scope, Stream } from "effect"
import { start as startChainWatcher } from "../actors/ChainWatcher.ts"
import { ChannelManager, make as makeChannelManager, type ChannelManagerShape, type NodeChannelEvent } from "../actors/ChannelManager.ts"
import { Broadcaster, type BroadcasterShape } from "../services/Broadcaster.ts"
import { ChainSource, type ChainSourceShape } from "../services/ChainSource.ts"
import * as PeerManager from "../actors/PeerManager.ts"
import { loadWasmSecp256k1 } from "../layers/crypto/secp256k1-wasm.ts"
import { makeSeedChannelSigner } from "../layers/signer/SeedChannelSigner.ts"
import * as SeededNodeSigner from "../layers/test/SeededNodeSigner.ts"
import { fromHex } from "../protocol/bytes.ts"
import { nodeIdFromHex } from "../api/convert.ts"
import { ChannelIdSchema, ShortChannelIdSchema } from "../protocol/codec/fields.ts"
import { NegotiatedChannelTypeSchema } from "../protocol/channel/open.ts"
import { nobleSecp256k1, type Secp256k1 } from "../protocol/crypto/secp256k1.ts"
import { msat, type NodeId, sat } from "../protocol/units.ts"
import { ChannelSigner } from "../services/ChannelSigner.ts"
import { Entropy, type EntropyShape } from "../services/Entropy.ts"
import { MonitorPersister, type MonitorPersisterShape } from "../services/MonitorPersister.ts"
import { describeValue, Trace, type TraceShape } from "../services/Trace.ts"
import { Transport, type TransportShape } from "../services/Transport.ts"

/** How to build the node again (the `start` record's data). */
export const NodeRecipe = Schema.Struct({
  /** Its name in the trace. */
  name: Schema.String,
  /** Decides the node key and the channel signer's seed (test and simulation keys). */
  seed: Schema.String,
  listen: Schema.optional(Schema.Struct({ host: Schema.String, port: Schema.Number })),
  feerateEstimatePerKw: Schema.Number,
  /** The peers' ping interval in ms (default the peer's, 30 s). */
  pingIntervalMs: Schema.optional(Schema.Number),
  /** Follow the world's chain with a `ChainWatcher` (funding depth and spends as chain facts; broadcasts through it). */
  chain: Schema.optional(Schema.Boolean),
  /** Which secp256k1 backend (they sign alike; "wasm" falls back to "noble" where it does not load). */
  secp: Schema.Literals(["wasm", "noble"])
})
export type NodeRecipe = typeof NodeRecipe.Type

const Hex = Schema.String
const ChannelIdField = ChannelIdSchema
/** Amounts and ids as decimal strings (JSON has no 64-bit integers). */
const Dec = Schema.String

/** An application call on the node (`command` records). */
export const NodeCommand = Schema.Union([
  Schema.TaggedStruct("Connect", { nodeId: Hex, host: Schema.String, port: Schema.Number }),
  Schema.TaggedStruct("Disconnect", { nodeId: Hex }),
  Schema.TaggedStruct("OpenChannel", { nodeId: Hex, amountSat: Dec, pushMsat: Dec, channelType: NegotiatedChannelTypeSchema }),
  Schema.TaggedStruct("FundChannel", { temporaryChannelId: ChannelIdField, tx: Hex }),
  Schema.TaggedStruct("FundingDepth", { channelId: ChannelIdField, depth: Schema.Number, shortChannelId: Schema.optional(ShortChannelIdSchema) }),
  Schema.TaggedStruct("FundingSpent", { channelId: ChannelIdField, txid: Hex }),
  Schema.TaggedStruct("AddHtlc", { channelId: ChannelIdField, amountMsat: Dec, paymentHash: Hex, cltvExpiry: Schema.Number, onion: Hex }),
  Schema.TaggedStruct("FulfillHtlc", { channelId: ChannelIdField, htlcId: Dec, preimage: Hex }),
  Schema.TaggedStruct("FailHtlc", { channelId: ChannelIdField, htlcId: Dec, reason: Hex }),
  Schema.TaggedStruct("UpdateFee", { channelId: ChannelIdField, feeratePerKw: Schema.Number }),
  Schema.TaggedStruct("CloseChannel", { channelId: ChannelIdField }),
  Schema.TaggedStruct("ForceClose", { channelId: ChannelIdField, reason: Schema.String })
])
export type NodeCommand = typeof NodeCommand.Type

/** A value already in JSON form, checked (what `Trace.emit` takes). */
export const asJson = Schema.decodeUnknownSync(Schema.Json)

export const encodeRecipe = (recipe: NodeRecipe): Schema.Json => asJson(Schema.encodeSync(NodeRecipe)(recipe))
export const decodeRecipe = Schema.decodeUnknownSync(NodeRecipe)
export const encodeCommand = (command: NodeCommand): Schema.Json => asJson(Schema.encodeSync(NodeCommand)(command))
export const decodeCommand = Schema.decodeUnknownSync(NodeCommand)

/** What the node is built over. */
export interface NodeWorld {
  readonly trace: TraceShape
  readonly entropy: EntropyShape
  readonly clock: Clock.Clock
  readonly transport: TransportShape
  readonly persister: MonitorPersisterShape
  /** The chain, for a recipe with `chain: true`. */
  readonly chain?: ChainSourceShape
  readonly broadcaster?: BroadcasterShape
}

export interface TracedNode {
  readonly recipe: NodeRecipe
  readonly nodeId: NodeId
  readonly peers: PeerManager.PeerManagerShape
  readonly channels: ChannelManagerShape
  /** Every event so far, in order. */
  readonly events: ReadonlyArray<NodeChannelEvent>
  /** Runs command number `n` in the node's context; its answer is recorded (`reply`) and returned. */
  readonly execute: (command: NodeCommand, n: number) => Effect.Effect<Exit.Exit<unknown, unknown>>
}

const secpOf = (recipe: NodeRecipe): Secp256k1 => {
  if (recipe.secp === "noble") return nobleSecp256k1
  const wasm = loadWasmSecp256k1()
  return wasm._tag === "Success" ? wasm.success : nobleSecp256k1
}

const bytesOf = (text: string): Uint8Array => new TextEncoder().encode(text)

/** The node's payout script: P2WPKH to a key hash derived from the seed (tests never spend it). */
export const recipeShutdownScript = (recipe: NodeRecipe): Uint8Array =>
  Uint8Array.from([0x00, 0x14, ...sha256(bytesOf(`${recipe.seed}/shutdown`)).subarray(0, 20)])

const run = (channels: ChannelManagerShape, peers: PeerManager.PeerManagerShape, c: NodeCommand): Effect.Effect<unknown, unknown> => {
  switch (c._tag) {
    case "Connect":
      return peers.connect(nodeIdFromHex(c.nodeId), { host: c.host, port: c.port }).pipe(Effect.map((info) => info.nodeId))
    case "Disconnect":
      return peers.disconnect(nodeIdFromHex(c.nodeId))
    case "OpenChannel":
      return channels.openChannel(nodeIdFromHex(c.nodeId), sat(BigInt(c.amountSat)), {
        pushAmount: msat(BigInt(c.pushMsat)),
        channelType: c.channelType
      })
    case "FundChannel":
      return channels.fundChannel(c.temporaryChannelId, fromHex(c.tx))
    case "FundingDepth":
      return channels.chainFact(c.channelId, {
        _tag: "FundingDepth",
        depth: c.depth,
        ...(c.shortChannelId === undefined ? {} : { shortChannelId: c.shortChannelId })
      })
    case "FundingSpent":
      return channels.chainFact(c.channelId, { _tag: "FundingSpent", txid: fromHex(c.txid) })
    case "AddHtlc":
      return channels.addHtlc(c.channelId, {
        amount: msat(BigInt(c.amountMsat)),
        paymentHash: fromHex(c.paymentHash),
        cltvExpiry: c.cltvExpiry,
        onion: fromHex(c.onion)
      })
    case "FulfillHtlc":
      return channels.fulfillHtlc(c.channelId, BigInt(c.htlcId), fromHex(c.preimage))
    case "FailHtlc":
      return channels.failHtlc(c.channelId, BigInt(c.htlcId), fromHex(c.reason))
    case "UpdateFee":
      return channels.updateFee(c.channelId, c.feeratePerKw)
    case "CloseChannel":
      return channels.closeChannel(c.channelId)
    case "ForceClose":
      return channels.forceClose(c.channelId, c.reason)
  }
}

/**
 * Builds the node of `recipe` over `world` (records `start` first). Its fibers live in the
 * current scope and see `world.clock` and `world.trace`.
 */
export const buildNode = (recipe: NodeRecipe, world: NodeWorld): Effect.Effect<TracedNode, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const { trace } = world
    if (trace.enabled) trace.emit("node", "start", encodeRecipe(recipe))
    const secp = secpOf(recipe)
    const inNode = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      effect.pipe(Effect.provideService(Clock.Clock, world.clock), Effect.provideService(Trace, trace))
    const peers = yield* inNode(
      PeerManager.make({
        peer: { rejectChannels: false, ...(recipe.pingIntervalMs === undefined ? {} : { pingInterval: recipe.pingIntervalMs }) },
        ...(recipe.listen === undefined ? {} : { listen: recipe.listen })
      }).pipe(
        Effect.provide(Layer.mergeAll(
          Layer.succeed(Transport, world.transport),
          Layer.succeed(Entropy, world.entropy),
          SeededNodeSigner.layer(recipe.seed, secp)
        ))
      )
    )
    const signer = makeSeedChannelSigner(sha256(bytesOf(`${recipe.seed}/channels`)), secp)
    const channels = yield* inNode(
      makeChannelManager({ secp, shutdownScript: recipeShutdownScript(recipe), feerateEstimatePerKw: recipe.feerateEstimatePerKw }).pipe(
        Effect.provideService(PeerManager.PeerManager, peers),
        Effect.provideService(ChannelSigner, signer),
        Effect.provideService(MonitorPersister, world.persister),
        Effect.provideService(Entropy, world.entropy)
      )
    )
    if (recipe.chain === true) {
      if (world.chain === undefined || world.broadcaster === undefined) return yield* Effect.die(new Error("the recipe follows a chain and the world has none"))
      yield* inNode(startChainWatcher().pipe(
        Effect.provideService(ChannelManager, channels),
        Effect.provideService(ChainSource, world.chain),
        Effect.provideService(Broadcaster, world.broadcaster)
      ))
    }
    const events: Array<NodeChannelEvent> = []
    const stream = yield* inNode(channels.subscribe)
    yield* inNode(Effect.forkScoped(Stream.runForEach(stream, (e) =>
      Effect.sync(() => {
        events.push(e)
        if (trace.enabled) trace.emit("node", e.event._tag === "Broadcast" ? "broadcast" : "event", describeValue(e))
      }))))
    const scope = yield* Effect.scope
    const execute = (command: NodeCommand, n: number): Effect.Effect<Exit.Exit<unknown, unknown>> =>
      inNode(
        Effect.exit(run(channels, peers, command)).pipe(
          Effect.tap((exit) =>
            Effect.sync(() => {
              if (!trace.enabled) return
              if (Exit.isSuccess(exit)) trace.emit("node", "reply", { n, ok: describeValue(exit.value) })
              else {
                const error = Cause.findError(exit.cause)
                trace.emit("node", "reply", { n, error: error._tag === "Success" ? describeValue(error.success) : "defect" })
              }
            })
          ),
          Effect.forkIn(scope),
          Effect.flatMap(Fiber.join)
        )
      )
    return { recipe, nodeId: peers.nodeId, peers, channels, events, execute }
  })
