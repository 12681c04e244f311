/**
 * `--dev-channel-secrets` (issue 13, a conformance-suite hook): every channel of the node uses the
 * given base secrets, and its per-commitment points come from the given seed by BOLT 3's
 * `generate_from_seed`. Shown the way a conformance suite sees it: in the `open_channel` and
 * `accept_channel` a peer receives over TCP, between two `NodeLive` nodes.
 */
import { assert, describe, it } from "@effect/vitest"
import { NodeServices } from "@effect/platform-node"
import { Context, Effect, FileSystem, Layer } from "effect"
import { ChannelManager } from "../../src/actors/ChannelManager.ts"
import { PeerManager } from "../../src/actors/PeerManager.ts"
import type { NodeLiveOptions } from "../../src/node/NodeLive.ts"
import * as NodeLive from "../../src/node/NodeLive.ts"
import type { FixedChannelSecrets } from "../../src/layers/signer/SeedChannelSigner.ts"
import { fromHex, toHex } from "../../src/protocol/bytes.ts"
import type { NegotiatedChannel } from "../../src/protocol/channel/open.ts"
import { nobleSecp256k1 as secp } from "../../src/protocol/crypto/secp256k1.ts"
import { FIRST_INDEX, perCommitmentSecret } from "../../src/protocol/keys/shachain.ts"
import type { ChannelId } from "../../src/protocol/units.ts"
import { sat } from "../../src/protocol/units.ts"

const secretsOf = (digit: string): FixedChannelSecrets => ({
  funding: fromHex(`${digit}1`.repeat(32)),
  revocation: fromHex(`${digit}2`.repeat(32)),
  payment: fromHex(`${digit}3`.repeat(32)),
  delayedPayment: fromHex(`${digit}4`.repeat(32)),
  htlc: fromHex(`${digit}5`.repeat(32)),
  shachainSeed: fromHex(`${digit}6`.repeat(32))
})

const pub = (secret: Uint8Array): string => toHex(secp.publicKey(secret) ?? new Uint8Array(0))

/** What a peer must have received: the basepoints of the secrets, and the first per-commitment point of the seed. */
const expected = (s: FixedChannelSecrets) => ({
  fundingPubkey: pub(s.funding),
  revocationBasepoint: pub(s.revocation),
  paymentBasepoint: pub(s.payment),
  delayedPaymentBasepoint: pub(s.delayedPayment),
  htlcBasepoint: pub(s.htlc),
  firstPerCommitmentPoint: pub(perCommitmentSecret(s.shachainSeed, FIRST_INDEX))
})

/** The remote party's keys as a channel recorded them from the peer's message. */
const received = (n: NegotiatedChannel) => ({
  fundingPubkey: toHex(n.remote.basepoints.fundingPubkey),
  revocationBasepoint: toHex(n.remote.basepoints.revocationBasepoint),
  paymentBasepoint: toHex(n.remote.basepoints.paymentBasepoint),
  delayedPaymentBasepoint: toHex(n.remote.basepoints.delayedPaymentBasepoint),
  htlcBasepoint: toHex(n.remote.basepoints.htlcBasepoint),
  firstPerCommitmentPoint: toHex(n.remoteFirstPerCommitmentPoint)
})

const startNode = (options: Omit<NodeLiveOptions, "dataDir">) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dataDir = yield* fs.makeTempDirectoryScoped({ prefix: "ln-node-secrets-" })
    const context = yield* Layer.build(NodeLive.layer({ dataDir, ...options }))
    return { peers: Context.get(context, PeerManager), channels: Context.get(context, ChannelManager) }
  })

/** The funder's channel once the fundee's `accept_channel` passed (phase WaitFundingTx). */
const acceptedBy = (channels: typeof ChannelManager.Service, id: ChannelId) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1000; i++) {
      const info = yield* channels.channel(id)
      if (info.state._tag === "WaitFundingTx") return info.state.negotiated
      if (info.state._tag !== "WaitAcceptChannel") return assert.fail(`unexpected phase ${info.state._tag}`)
      yield* Effect.sleep("10 millis")
    }
    return assert.fail("no accept_channel")
  })

describe("NodeLive --dev-channel-secrets", () => {
  it.live("open_channel and accept_channel carry the basepoints of the given secrets and the seed's first per-commitment point, for every channel", () =>
    Effect.gen(function*() {
      const fundeeSecrets = secretsOf("a")
      const funderSecrets = secretsOf("b")
      const fundee = yield* startNode({ listen: { host: "127.0.0.1", port: 0 }, channelSecrets: fundeeSecrets })
      const funder = yield* startNode({ channelSecrets: funderSecrets })
      const address = fundee.peers.listenAddress
      if (address === undefined) return assert.fail("the fundee does not listen")
      yield* funder.peers.connect(fundee.peers.nodeId, address)
      const first = yield* funder.channels.openChannel(fundee.peers.nodeId, sat(100_000n), { feeratePerKw: 2500 })
      const second = yield* funder.channels.openChannel(fundee.peers.nodeId, sat(120_000n), { feeratePerKw: 2500 })
      // The funder's view of the fundee's accept_channel, for each channel.
      for (const id of [first, second]) {
        assert.deepStrictEqual(received(yield* acceptedBy(funder.channels, id)), expected(fundeeSecrets))
      }
      // The fundee's view of the funder's open_channel, for each channel.
      const seen = new Set<string>()
      for (let i = 0; i < 1000 && seen.size < 2; i++) {
        for (const c of yield* fundee.channels.listChannels) {
          if (c.state._tag !== "WaitFundingCreated") continue
          assert.deepStrictEqual(received(c.state.negotiated), expected(funderSecrets))
          seen.add(toHex(c.channelId))
        }
        if (seen.size < 2) yield* Effect.sleep("10 millis")
      }
      assert.strictEqual(seen.size, 2)
      // A node without the hook: per-channel keys from its seed, two channels, two funding keys;
      // the fundee keeps its fixed ones with this peer too.
      const plain = yield* startNode({})
      yield* plain.peers.connect(fundee.peers.nodeId, address)
      const a = yield* acceptedBy(plain.channels, yield* plain.channels.openChannel(fundee.peers.nodeId, sat(100_000n), { feeratePerKw: 2500 }))
      const b = yield* acceptedBy(plain.channels, yield* plain.channels.openChannel(fundee.peers.nodeId, sat(100_000n), { feeratePerKw: 2500 }))
      assert.deepStrictEqual(received(a), expected(fundeeSecrets))
      assert.notStrictEqual(toHex(a.local.basepoints.fundingPubkey), toHex(b.local.basepoints.fundingPubkey))
    }).pipe(Effect.provide(NodeServices.layer)))
})
