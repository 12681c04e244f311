/**
 * HTLC batching under concurrent payments (issue 8): with 50 payments in flight between two of
 * our nodes, the Channel actors batch what is pending into few `commitment_signed`s, each signing
 * many HTLCs. Every commitment signs every HTLC it holds again, so the fewer commitments and the
 * sooner HTLCs leave them, the fewer HTLC signatures per payment. HEAD sends 0.14
 * `commitment_signed` and 4.0 HTLC signatures per payment. Commit 7a9e2f8's second half (an idle
 * channel started on the ChannelManager's fiber right after a pull, `Actor.offerBatched`) raised
 * them (the payment bench printed 0.23 and 6.6), and no test noticed; 7f43985 took it back.
 *
 * What runs: Alice's and Bob's payment layers (`Payments`: invoice, route, onion, claim) over
 * their ChannelManagers with the in-memory persister (immediate), as the payment bench's
 * "50 concurrent, in memory" run; 250 payments, 50 workers each paying one invoice after another.
 *
 * Deterministic: everything runs on a `SimRuntime` (one scheduler the test pumps, simulated time
 * that moves only when nothing is runnable; no `setImmediate`, no timers, no wall clock), so the
 * counts are a function of the code, not of the machine's load.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Fiber, Result } from "effect"
import { describe, expect, it } from "vitest"
import type { PaymentsShape } from "../../src/actors/Payments.ts"
import { toHex } from "../../src/protocol/bytes.ts"
import { msat } from "../../src/protocol/units.ts"
import { SimRuntime } from "../../src/sim/Runtime.ts"
import { HTLC_MSAT, makePair, type PairWire } from "./ChannelManagerPair.ts"

const PAYMENTS = 250
const IN_FLIGHT = 50

const paymentsOf = (p: PaymentsShape | undefined): PaymentsShape => {
  if (p === undefined) throw new Error("unreachable: the pair was made with payments")
  return p
}

/** `commitment_signed` sent (both ways) and the HTLC signatures in them, per payment. */
const concurrentPayments = (sendNow: boolean, wire?: PairWire) => Effect.scoped(
  Effect.gen(function*() {
    const pair = yield* makePair({ storage: "memory", payments: true, sendNow, signerNow: sendNow, ...(wire === undefined ? {} : { wire }) })
    const alice = paymentsOf(pair.alice.payments)
    const bob = paymentsOf(pair.bob.payments)
    let started = 0
    let done = 0
    const worker = (w: number) =>
      Effect.gen(function*() {
        for (let i = 0; started < PAYMENTS; i++) {
          started++
          const invoice = yield* bob.createInvoice({ amountMsat: msat(HTLC_MSAT), description: { text: `payment ${w}/${i}` } })
          const paid = yield* Effect.result(alice.pay(invoice.invoice))
          if (Result.isFailure(paid)) return yield* Effect.die(new Error(`payment ${w}/${i} failed: ${paid.failure._tag}`))
          if (toHex(sha256(paid.success.preimage)) !== toHex(invoice.paymentHash)) return yield* Effect.die(new Error("wrong preimage"))
          done++
        }
      })
    const signed0 = pair.counters.commitmentSigned
    const signatures0 = pair.counters.htlcSignatures
    const workers = []
    for (let w = 0; w < IN_FLIGHT; w++) workers.push(yield* Effect.forkChild(worker(w)))
    for (const f of workers) yield* Fiber.join(f)
    return {
      sinkEvents: pair.counters.sinkEvents,
      done,
      commitmentSigned: (pair.counters.commitmentSigned - signed0) / done,
      htlcSignatures: (pair.counters.htlcSignatures - signatures0) / done
    }
  })
)

describe("ChannelManager HTLC batching under concurrent payments", () => {
  // Both ways a channel sends and signs: through effects, and at once (the peer layer's `declareSendNow`, the signer's `declareChannelSignerNow`).
  it.each([false, true])(`${IN_FLIGHT} payments in flight: few commitment_signed and HTLC signatures per payment (send and sign at once: %s)`, (sendNow) => {
    const r = new SimRuntime().runNow(concurrentPayments(sendNow))
    expect(r.done).toBe(PAYMENTS)
    const detail = `commitment_signed ${r.commitmentSigned}, HTLC signatures ${r.htlcSignatures} per payment`
    // The bounds, between what HEAD does and what the regression did, on this very run (deterministic):
    //   HEAD (7f43985):            0.140 commitment_signed, 4.00 HTLC signatures per payment
    //   7a9e2f8 and ab5868d:       0.216 commitment_signed, 5.95 HTLC signatures per payment
    // 0.18 and 5.0 sit near the middle: HEAD passes with ~25% to spare (a small legitimate change
    // in how a batch forms does not trip it), the regression fails by ~20%.
    expect(r.commitmentSigned, detail).toBeLessThanOrEqual(0.18)
    expect(r.htlcSignatures, detail).toBeLessThanOrEqual(5.0)
    // The floor, so the counters are seen to count: each payment's HTLC is signed at least once in
    // each side's commitment that adds it (2 signatures), whatever the batching.
    expect(r.htlcSignatures, detail).toBeGreaterThanOrEqual(2)
  })

  // A wire that delivers each message in a step of its own (as the simulation's network): the
  // managers take the session events as they come (`declareSessionEventSink`) or through their
  // streams, with the same outcome, count for count (the sink handles a message where the stream's
  // fiber, woken by it, would run first).
  it("messages delivered in steps of their own: the same batching through the managers' sinks as through their streams", () => {
    const run = (sink: boolean) => {
      const rt = new SimRuntime()
      return rt.runNow(concurrentPayments(true, { later: (f) => void rt.at(rt.clock.now, f), sink }))
    }
    const streamed = run(false)
    const sunk = run(true)
    expect(streamed.done).toBe(PAYMENTS)
    expect(streamed.sinkEvents).toBe(0)
    // Every message went to a sink (each payment's update_add_htlc and update_fulfill_htlc at least).
    expect(sunk.sinkEvents).toBeGreaterThan(2 * PAYMENTS)
    expect({ ...sunk, sinkEvents: 0 }).toEqual(streamed)
  })
})
