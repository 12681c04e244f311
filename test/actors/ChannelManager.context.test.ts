/**
 * The context a channel actor is made with is its manager's, whoever opened the channel: a
 * channel opened from a caller's fiber keeps none of that caller's services (an actor runs with
 * its own context over its starter's, and copies the starter's whole context when the starter
 * lacks one of its own services: the payments' fiber, which lacks the manager's, did so ~3 times
 * per payment in a simulation while the channels' contexts held the manager's services). Seen
 * from outside: a service only the opener's context held is collected once the channel has
 * been started from another fiber (the manager's session fiber, with the peer's answer).
 */
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { Context, Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { ChannelManagerShape } from "../../src/actors/ChannelManager.ts"
import { type NodeId, sat } from "../../src/protocol/units.ts"
import { FUNDING_SAT, makePair } from "./ChannelManagerPair.ts"

const gc: () => void = (() => {
  setFlagsFromString("--expose-gc")
  const f: unknown = runInNewContext("gc")
  if (typeof f !== "function") throw new Error("no gc")
  return () => void f()
})()

/** A service only the opener's fiber holds. */
class Opener extends Context.Service<Opener, { readonly held: Uint8Array }>()("test/Opener") {}

/** A macrotask (WeakRef targets are kept until the current job ends). */
const tick = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 5)))

/** Opens a channel from a fiber holding an `Opener` service (its bytes seen through `watch`'s WeakRef only). */
const openHolding = (manager: ChannelManagerShape, peer: NodeId, watch: (ref: WeakRef<Uint8Array>) => void) => {
  const held = new Uint8Array(1024)
  watch(new WeakRef(held))
  return manager
    .openChannel(peer, sat(FUNDING_SAT), { channelType: { name: "anchors_zero_fee_htlc_tx", scidAlias: false, zeroConf: false }, feeratePerKw: 2500 })
    .pipe(Effect.provideService(Opener, { held }))
}

describe("ChannelManager: the channels' context", () => {
  it("a channel opened from a caller's fiber keeps none of the caller's services", async () => {
    let ref: WeakRef<Uint8Array> | undefined
    const program = Effect.scoped(
      Effect.gen(function*() {
        const pair = yield* makePair({ storage: "memory" })
        const temporary = yield* Effect.orDie(openHolding(pair.alice.manager, pair.bob.nodeId, (r) => (ref = r)))
        // The peer's `accept_channel` starts the channel again, from the manager's session fiber.
        for (let i = 0; i < 200; i++) {
          const info = yield* Effect.orDie(pair.alice.manager.channel(temporary))
          if (info.phase !== "WaitAcceptChannel" && !info.paused) break
          yield* tick
        }
        yield* tick
        gc()
        yield* tick
        gc()
        return ref?.deref() === undefined
      })
    )
    expect(await Effect.runPromise(program)).toBe(true)
  }, 60_000)
})
