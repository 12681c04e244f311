/**
 * `listChannels` reads an idle channel's snapshot at once (`ChannelHandle.snapshotNow`, no effect
 * per channel) and a busy one's through its mailbox, in order: the same infos as asking each
 * channel (`channel`) one after another. Deterministic: on a `SimRuntime` (the test decides when
 * fibers run), so a channel is busy exactly when the test left a message queued on it.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Fiber } from "effect"
import { describe, expect, it } from "vitest"
import { msat } from "../../src/protocol/units.ts"
import { SimRuntime } from "../../src/sim/Runtime.ts"
import { HTLC_MSAT, makePair } from "./ChannelManagerPair.ts"

const ONION = new Uint8Array(1366)

describe("ChannelManager.listChannels", () => {
  it("gives what each channel's own snapshot gives, idle ones at once and a busy one after what was queued before", () => {
    const r = new SimRuntime().runNow(
      Effect.scoped(
        Effect.gen(function*() {
          const pair = yield* makePair({ storage: "memory", sendNow: true, signerNow: true })
          const alice = pair.alice.manager
          // Every channel idle: the list is each channel's info, asked one by one.
          const idle = yield* alice.listChannels
          const oneByOne = yield* Effect.forEach(idle, (c) => Effect.orDie(alice.channel(c.channelId)))
          // A command queued on the channel and not handled yet: it is busy, the list asks it through its mailbox.
          const preimage = sha256(new Uint8Array(32).fill(7))
          const add = yield* Effect.forkChild(
            alice.addHtlc(pair.channelId, { requestId: "list", amount: msat(HTLC_MSAT), paymentHash: sha256(preimage), cltvExpiry: 800_144, onion: ONION }),
            { startImmediately: true }
          )
          const busy = yield* alice.listChannels
          yield* Fiber.join(add).pipe(Effect.orDie)
          return { idle, oneByOne, busy }
        })
      )
    )
    expect(r.idle.length).toBe(1)
    expect(r.idle).toStrictEqual(r.oneByOne)
    const busy = r.busy[0]
    expect(busy?.state._tag).toBe("Normal")
    // Answered after the queued add: the list's info holds it.
    if (busy?.state._tag === "Normal") expect(busy.state.commitments.localChanges.proposed.length + busy.state.commitments.localChanges.signed.length).toBeGreaterThan(0)
  }, 60_000)
})
