/**
 * The registry's send at once (`sendNowOf`): what a channel uses to send with no effect. It must
 * keep `send`'s contract: a message for a connection that is over fails with `StaleSession` and
 * never goes out on the peer's next connection (issue 7); one that does not encode fails with
 * `UnencodableMessage`; the live session gets every message, in order, whichever of the two sent it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Queue, Result, Schema } from "effect"
import * as fc from "fast-check"
import { declareSendNow, type PeerManagerShape, sendNowOf } from "../../src/actors/PeerManager.ts"
import type { PeerSessionEvent, SessionId } from "../../src/actors/PeerEvent.ts"
import { makeMemoryNetwork, type MemoryNetwork } from "../../src/layers/test/MemoryTransport.ts"
import { secretFromSeed } from "../../src/layers/test/SeededNodeSigner.ts"
import { ourInitFeatures } from "../../src/protocol/features.ts"
import { ChannelIdSchema } from "../../src/protocol/codec/fields.ts"
import { LightningMessages, makeWarning, UpdateFee } from "../../src/protocol/messages/index.ts"
import { dialRaw, initMessage } from "../sim/RawPeer.ts"
import { consumeSessions, PORT, startNode } from "../sim/nodes.ts"

const channelOf = (n: number) => Schema.decodeSync(ChannelIdSchema)(n.toString(16).padStart(2, "0").repeat(32))
const fee = (n: number) => UpdateFee.make({ channelId: channelOf(1), feeratePerKw: n })

/** Mallory (a raw peer) connects to Alice and completes `init`; her session as Alice knows it. */
const malloryJoins = (net: MemoryNetwork, alice: PeerManagerShape, connected: Queue.Queue<SessionId>, ephemeral: string) =>
  Effect.gen(function*() {
    const mallory = yield* dialRaw(net.transport("10.6.6.6"), { host: "10.0.0.1", port: PORT }, alice.nodeId, "mallory", secretFromSeed(ephemeral))
    yield* mallory.receiveTag("Init")
    yield* mallory.send(initMessage(ourInitFeatures))
    return { mallory, session: yield* Queue.take(connected) }
  })

/** The fee rates of the next `n` `update_fee` messages Mallory receives (other messages skipped). */
const receivedFees = (mallory: { readonly receive: Effect.Effect<Uint8Array, unknown> }, n: number) =>
  Effect.gen(function*() {
    const out: Array<number> = []
    while (out.length < n) {
      const m = LightningMessages.decode(yield* mallory.receive)
      if (Result.isSuccess(m) && m.success._tag === "UpdateFee") out.push(m.success.feeratePerKw)
    }
    return out
  })

describe("PeerManager send at once", () => {
  it.effect("a stale session fails with StaleSession and never reaches the next connection; the live one gets every message in order, from send and sendNow alike", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const alice = yield* startNode(net, "alice", "10.0.0.1")
      const sendNow = sendNowOf(alice)
      if (sendNow === undefined) return assert.fail("the registry declares its send at once")
      const connected = yield* Queue.unbounded<SessionId>()
      const disconnected = yield* Queue.unbounded<SessionId>()
      yield* consumeSessions(alice, (e: PeerSessionEvent) =>
        e._tag === "Connected" ? Queue.offer(connected, e.session) : e._tag === "Disconnected" ? Queue.offer(disconnected, e.session) : Effect.void)
      const first = yield* malloryJoins(net, alice, connected, "e1")
      assert.isUndefined(sendNow(first.session, fee(1)))
      assert.deepStrictEqual(yield* receivedFees(first.mallory, 1), [1])
      yield* first.mallory.connection.close
      yield* Queue.take(disconnected)
      const second = yield* malloryJoins(net, alice, connected, "e2")
      assert.notStrictEqual(first.session, second.session)

      // Random interleavings of the two sends over the stale and the live session.
      const plans = fc.sample(fc.array(fc.record({ now: fc.boolean(), stale: fc.boolean() }), { minLength: 1, maxLength: 12 }), { numRuns: 20, seed: 7 })
      let next = 100
      for (const plan of plans) {
        const expected: Array<number> = []
        for (const step of plan) {
          const n = next++
          const session = step.stale ? first.session : second.session
          const failed = step.now ? sendNow(session, fee(n)) : yield* Effect.flip(alice.send(session, fee(n))).pipe(Effect.orElseSucceed(() => undefined))
          if (step.stale) {
            assert.strictEqual(failed?._tag, "StaleSession")
            assert.strictEqual(failed?._tag === "StaleSession" ? failed.session : undefined, first.session)
          } else {
            assert.isUndefined(failed)
            expected.push(n)
          }
        }
        // Only the live session's messages arrive, in the order sent (a stale one would show up here).
        if (expected.length > 0) assert.deepStrictEqual(yield* receivedFees(second.mallory, expected.length), expected)
      }

      // A message that does not encode: the same typed failure as `send`, nothing sent.
      const tooLong = { ...makeWarning("x", channelOf(2)), data: new Uint8Array(65535) }
      const viaSend = yield* Effect.flip(alice.send(second.session, tooLong))
      assert.strictEqual(sendNow(second.session, tooLong)?._tag, viaSend._tag)
      assert.strictEqual(viaSend._tag, "UnencodableMessage")
      assert.isUndefined(sendNow(second.session, fee(7)))
      assert.deepStrictEqual(yield* receivedFees(second.mallory, 1), [7])

      // Declared by object: a wrapper that spreads the fields and replaces `send` does not inherit it.
      const wrapper: PeerManagerShape = { ...alice, send: () => Effect.void }
      assert.isUndefined(sendNowOf(wrapper))
      assert.strictEqual(sendNowOf(declareSendNow(wrapper, sendNow)), sendNow)
    }))
})
