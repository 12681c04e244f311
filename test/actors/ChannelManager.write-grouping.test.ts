/**
 * Write grouping (issue 7): how many store writes the node's local persister (the store replica,
 * JSON of every write, over the in-memory store) makes per HTLC round trip between two of our
 * nodes, one round trip at a time. HEAD makes 7. Commit 7a9e2f8 made it 8 (the ChannelManager
 * started an idle channel on the pull's own fiber: Alice's write of Bob's last revocation went
 * alone instead of with her next add's; ab5868d took it back), and no test noticed: only the
 * channel bench's printed "store writes per round trip" did.
 *
 * Deterministic: everything runs on a `SimRuntime` (one scheduler the test pumps, simulated time
 * that moves only when nothing is runnable; no `setImmediate`, no timers, no wall clock), so the
 * count is a function of the code, not of the machine's load.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Queue, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { toHex } from "../../src/protocol/bytes.ts"
import { msat } from "../../src/protocol/units.ts"
import { SimRuntime } from "../../src/sim/Runtime.ts"
import { HTLC_MSAT, isQuiet, makePair } from "./ChannelManagerPair.ts"

const WARM_UP = 3
const ROUND_TRIPS = 20
const ONION = new Uint8Array(1366)

/**
 * One at a time, as the channel bench's `one-store` run: Alice adds an HTLC (`update_add_htlc`,
 * `commitment_signed`/`revoke_and_ack` both ways), Bob fulfills it when he receives it
 * (`update_fulfill_htlc`, the same again); the next add starts once Alice saw the fulfill and
 * both channels are quiet (a write that no message waits on may still be under way, as for a
 * user). Returns the store writes of each measured round trip (both nodes).
 */
const writesPerRoundTrip = (sendNow: boolean) => Effect.scoped(
  Effect.gen(function*() {
    const pair = yield* makePair({ storage: "store", sendNow, signerNow: sendNow })
    const { alice, bob, channelId } = pair
    const scope = yield* Effect.scope
    const preimages = new Map<string, Uint8Array>()
    const fulfilled = yield* Queue.unbounded<boolean>()
    yield* Effect.forkScoped(
      Stream.runForEach(yield* bob.manager.subscribe, (e) => {
        if (e.event._tag !== "HtlcReceived") return Effect.void
        const preimage = preimages.get(toHex(e.event.paymentHash))
        if (preimage === undefined) return Effect.die(new Error("bob: unknown payment hash"))
        return Effect.forkIn(Effect.orDie(bob.manager.fulfillHtlc(e.channelId, e.event.htlcId, preimage)), scope)
      })
    )
    yield* Effect.forkScoped(
      Stream.runForEach(yield* alice.manager.subscribe, (e) =>
        e.event._tag === "HtlcResolved" ? Queue.offer(fulfilled, e.event.result._tag === "Fulfilled") : Effect.void
      )
    )
    /** Both channels quiet; with `durable`, also every write of theirs done. */
    const quiet = (durable: boolean) =>
      Effect.gen(function*() {
        for (let i = 0; i < 1_000_000; i++) {
          const a = yield* Effect.orDie(alice.manager.channel(channelId))
          if ((!durable || !a.paused) && isQuiet(a.state, 0)) {
            const b = yield* Effect.orDie(bob.manager.channel(channelId))
            if ((!durable || !b.paused) && isQuiet(b.state, 0)) return
          }
          yield* Effect.yieldNow
        }
        return yield* Effect.die(new Error("the channels never became quiet"))
      })
    yield* quiet(true)
    let next = 0
    const roundTrip = Effect.gen(function*() {
      const i = next++
      const preimage = sha256(new TextEncoder().encode(`preimage/${i}`))
      const paymentHash = sha256(preimage)
      preimages.set(toHex(paymentHash), preimage)
      yield* Effect.forkIn(
        Effect.orDie(alice.manager.addHtlc(channelId, { requestId: `htlc-${i}`, amount: msat(HTLC_MSAT), paymentHash, cltvExpiry: 800_144, onion: ONION })),
        scope
      )
      if (!(yield* Queue.take(fulfilled))) return yield* Effect.die(new Error(`HTLC ${i} was not fulfilled`))
      yield* quiet(false)
    })
    for (let i = 0; i < WARM_UP; i++) yield* roundTrip
    const writes: Array<number> = []
    for (let i = 0; i < ROUND_TRIPS; i++) {
      const before = pair.counters.storeWrites
      yield* roundTrip
      writes.push(pair.counters.storeWrites - before)
    }
    return writes
  })
)

describe("ChannelManager write grouping (store replica over the in-memory store)", () => {
  // Both ways a channel sends and signs: through effects, and at once (the peer layer's `declareSendNow`, the signer's `declareChannelSignerNow`).
  it.each([false, true])("one HTLC round trip at a time costs exactly 7 store writes (send and sign at once: %s)", (sendNow) => {
    const writes = new SimRuntime().runNow(writesPerRoundTrip(sendNow))
    const total = writes.reduce((s, n) => s + n, 0)
    // Why exactly 7. A round trip is a chain of 7 writes, each of which must be durable before the
    // message or event that leads to the next one leaves (the Channel holds its sends and events
    // until then): Alice's add and commitment_signed; Bob's revoke_and_ack and commitment_signed;
    // Alice's revoke_and_ack; Bob storing Alice's revocation (only then is the HTLC irrevocably
    // committed and `HtlcReceived` emitted, on which he fulfills); Bob's fulfill and
    // commitment_signed; Alice's revoke_and_ack and commitment_signed; Bob's revoke_and_ack. No
    // grouping can go under 7: fewer would mean a message sent before its state was stored. The
    // one update left, Alice storing Bob's last revocation, waits on nothing: at HEAD it joins
    // the next round trip's first write (Alice's next add), so a round trip costs 7. More than 7 is
    // lost grouping: 7a9e2f8 wrote that revocation on its own (8 per round trip).
    expect(total / ROUND_TRIPS, `store writes per round trip (each: ${writes.join(" ")})`).toBe(7)
  })
})
