/**
 * `NodeLive`'s conformance-suite hooks (`--dev` on regtest): a given node key, and the channel
 * settings of `devChannelSettings` as a peer sees them in our `accept_channel`.
 */
import { assert, describe, it } from "@effect/vitest"
import { NodeServices } from "@effect/platform-node"
import { Context, Effect, FileSystem, Layer } from "effect"
import { ChannelManager } from "../../src/actors/ChannelManager.ts"
import { PeerManager } from "../../src/actors/PeerManager.ts"
import { devChannelSettings } from "../../src/daemon/NodeFlags.ts"
import type { NodeLiveOptions } from "../../src/node/NodeLive.ts"
import * as NodeLive from "../../src/node/NodeLive.ts"
import { fromHex, toHex } from "../../src/protocol/bytes.ts"
import { defaultLocalChannelConfig } from "../../src/protocol/channel/config.ts"
import { nobleSecp256k1 } from "../../src/protocol/crypto/secp256k1.ts"
import { sat } from "../../src/protocol/units.ts"

const secret = fromHex("42".repeat(32))

const startNode = (options: Omit<NodeLiveOptions, "dataDir">) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dataDir = yield* fs.makeTempDirectoryScoped({ prefix: "ln-node-dev-" })
    const context = yield* Layer.build(NodeLive.layer({ dataDir, ...options }))
    return { peers: Context.get(context, PeerManager), channels: Context.get(context, ChannelManager) }
  })

describe("NodeLive dev hooks", () => {
  it.live("the node id is the public key of the given node secret", () =>
    Effect.gen(function*() {
      const node = yield* startNode({ nodeSecret: secret })
      const expected = nobleSecp256k1.publicKey(secret)
      assert.isDefined(expected)
      assert.strictEqual(toHex(node.peers.nodeId), toHex(expected ?? new Uint8Array()))
      // The option is copied, not zeroed in the caller's hands.
      assert.strictEqual(toHex(secret), "42".repeat(32))
      // Without it, the seed's key.
      const other = yield* startNode({})
      assert.notStrictEqual(toHex(other.peers.nodeId), toHex(node.peers.nodeId))
    }).pipe(Effect.provide(NodeServices.layer)))

  it.live("accept_channel carries --funding-confirms, --min-to-self-delay, --max-accepted-htlcs, --channel-reserve-sat; --min-feerate 253 is accepted", () =>
    Effect.gen(function*() {
      const settings = devChannelSettings({ fundingConfirms: 1, minToSelfDelay: 6, maxAcceptedHtlcs: 12, minFeeratePerKw: 253, channelReserveSat: 4321 })
      assert.notStrictEqual(defaultLocalChannelConfig.minimumDepth, 1)
      const fundee = yield* startNode({ listen: { host: "127.0.0.1", port: 0 }, nodeSecret: secret, channels: settings })
      const funder = yield* startNode({})
      const address = fundee.peers.listenAddress
      if (address === undefined) return assert.fail("the fundee does not listen")
      yield* funder.peers.connect(fundee.peers.nodeId, address)
      const temporaryChannelId = yield* funder.channels.openChannel(fundee.peers.nodeId, sat(100_000n), { feeratePerKw: 253 })
      // The funder's channel waits for its funding transaction once the fundee's accept_channel passed.
      let negotiated: {
        readonly minimumDepth: number
        readonly feeratePerKw: number
        readonly remote: { readonly toSelfDelay: number; readonly maxAcceptedHtlcs: number; readonly channelReserve: bigint }
      } | undefined
      for (let i = 0; i < 1000 && negotiated === undefined; i++) {
        const info = yield* funder.channels.channel(temporaryChannelId)
        if (info.state._tag === "WaitFundingTx") negotiated = info.state.negotiated
        else if (info.state._tag !== "WaitAcceptChannel") return assert.fail(`unexpected phase ${info.state._tag}`)
        else yield* Effect.sleep("10 millis")
      }
      if (negotiated === undefined) return assert.fail("no accept_channel")
      assert.strictEqual(negotiated.minimumDepth, 1)
      assert.strictEqual(negotiated.feeratePerKw, 253)
      assert.strictEqual(negotiated.remote.toSelfDelay, 6)
      assert.strictEqual(negotiated.remote.maxAcceptedHtlcs, 12)
      // 1% of 100,000 sat would be 1,000: the fixed reserve is what the fundee asks.
      assert.strictEqual(negotiated.remote.channelReserve, 4321n)
    }).pipe(Effect.provide(NodeServices.layer)))
})
