/**
 * Larger networks of our nodes in one process (test/sim/payments/PaymentNet.ts): seven nodes, each
 * with its own forwarding policy, pay each other over 1 to 4 hops (one at a time and at once) with
 * the fees accounted exactly at every node; twelve payments at once over 3 hops, each forwarder
 * handling a burst of incoming HTLCs together; in a six-node line a forwarder restarts in the middle
 * of a 4-hop payment (after forwarding, and with the fulfill on its way back) and the payment
 * completes once, every HTLC resolved.
 */
import { assert, describe, it } from "@effect/vitest"
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Fiber } from "effect"
import { equalBytes, toHex } from "../../../src/protocol/bytes.ts"
import type { ForwardingPolicy } from "../../../src/protocol/payment/index.ts"
import { msat } from "../../../src/protocol/units.ts"
import { type GraphChannel, macrotask, PaymentNet } from "./PaymentNet.ts"
import { succeeded, assertNoHtlcs } from "./outcomes.ts"

/** Node i's policy: a distinct base fee, proportional fee and CLTV delta per node. */
const policyOf = (i: number): Partial<ForwardingPolicy> => ({ feeBaseMsat: 1000 + 250 * i, feeProportionalMillionths: 100 + 50 * i, cltvExpiryDelta: 40 + 2 * i })

/** What each forwarder of `path` (node indexes, sender first) earns for delivering `amount`, computed backwards as the onion does. */
const feesAlong = (path: ReadonlyArray<number>, amount: bigint): Map<number, bigint> => {
  const fees = new Map<number, bigint>()
  let out = amount
  for (let k = path.length - 2; k >= 1; k--) {
    const p = policyOf(path[k]!)
    const fee = BigInt(p.feeBaseMsat!) + (out * BigInt(p.feeProportionalMillionths!)) / 1_000_000n
    fees.set(path[k]!, fee)
    out += fee
  }
  return fees
}

/** Node i's balance summed over all its channels (its current commitments). */
const holdings = (net: PaymentNet, i: number) =>
  Effect.gen(function*() {
    let total = 0n
    for (const c of net.channels) if (c.a === i || c.b === i) total += yield* net.balance(i, c.channelId)
    return total
  })

const snapshot = (net: PaymentNet) =>
  Effect.gen(function*() {
    const out: Array<bigint> = []
    for (let i = 0; i < net.h.size; i++) out.push(yield* holdings(net, i))
    return out
  })

/** Every node's expected change: + received as payee, - amount and fees as sender, + fees as forwarder. */
const expectedChanges = (size: number, payments: ReadonlyArray<{ readonly path: ReadonlyArray<number>; readonly amount: bigint }>) => {
  const delta = Array.from({ length: size }, () => 0n)
  for (const { path, amount } of payments) {
    const fees = feesAlong(path, amount)
    const total = [...fees.values()].reduce((s, f) => s + f, 0n)
    delta[path[0]!]! -= amount + total
    delta[path[path.length - 1]!]! += amount
    for (const [node, fee] of fees) delta[node]! += fee
  }
  return delta
}

const withNet = <A, E>(seed: string, nodes: number, f: (net: PaymentNet) => Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(PaymentNet.make(seed, nodes, Array.from({ length: nodes }, (_, i) => policyOf(i))), f, (net) => net.shutdown)

/**
 * The seven-node tree: 0-1, 1-2, 2-3, 3-4, 1-5, 5-6 (so every pair has one path), each channel
 * with liquidity both ways.
 */
const tree = (net: PaymentNet) =>
  Effect.gen(function*() {
    const cs: Array<GraphChannel> = []
    for (const [a, b] of [[0, 1], [1, 2], [2, 3], [3, 4], [1, 5], [5, 6]] as const) cs.push(yield* net.channel(a, b, { pushMsat: 400_000_000n }))
    return cs
  })

describe("networks of 6-7 of our nodes", () => {
  it.effect("seven nodes with distinct policies: payments over 1 to 4 hops, every node's balance moves by exactly its fees", () =>
    withNet("net-7", 7, (net) =>
      Effect.gen(function*() {
        yield* tree(net)
        const before = yield* snapshot(net)
        const payments = [
          { path: [0, 1], amount: 3_000_000n },
          { path: [0, 1, 2], amount: 5_000_000n },
          { path: [0, 1, 2, 3], amount: 7_000_000n },
          { path: [0, 1, 2, 3, 4], amount: 11_000_000n },
          { path: [6, 5, 1, 2], amount: 13_000_000n },
          { path: [4, 3, 2, 1, 5], amount: 17_000_000n },
          { path: [6, 5, 1, 2, 3], amount: 19_000_000n }
        ]
        // One at a time: the fee each sender paid is the sum of the forwarders' fees along its path.
        for (const { path, amount } of payments) {
          const payee = path[path.length - 1]!
          const inv = yield* net.pay(payee).createInvoice({ amountMsat: msat(amount), description: { text: path.join("-") } })
          const fiber = yield* Effect.forkChild(Effect.exit(net.pay(path[0]!).pay(inv.invoice)))
          yield* net.runUntil(() => fiber.pollUnsafe() !== undefined)
          const ok = succeeded(yield* Fiber.join(fiber))
          const fees = feesAlong(path, amount)
          assert.strictEqual(ok.feePaidMsat, [...fees.values()].reduce((s, f) => s + f, 0n), `fee of ${path.join("-")}`)
          assert.deepStrictEqual(ok.routes[0]!.hops.map((h) => net.nodeIndex(h.nodeId)), path.slice(1), `route of ${path.join("-")}`)
          assert.isTrue(equalBytes(sha256(ok.preimage), inv.paymentHash))
        }
        yield* net.settle()
        const after = yield* snapshot(net)
        const expected = expectedChanges(7, payments)
        for (let i = 0; i < 7; i++) assert.strictEqual(after[i]! - before[i]!, expected[i]!, `node ${i}'s balance change`)
        yield* assertNoHtlcs(net)

        // Five at once, over crossing paths: the same exact accounting.
        const concurrent = [
          { path: [0, 1, 5, 6], amount: 2_000_000n },
          { path: [4, 3, 2], amount: 2_500_000n },
          { path: [6, 5, 1, 0], amount: 3_500_000n },
          { path: [2, 1, 5], amount: 4_500_000n },
          { path: [3, 2, 1, 5, 6], amount: 5_500_000n }
        ]
        const start = yield* snapshot(net)
        const fibers = yield* Effect.forEach(concurrent, ({ path, amount }) =>
          Effect.gen(function*() {
            const inv = yield* net.pay(path[path.length - 1]!).createInvoice({ amountMsat: msat(amount), description: { text: `at once ${path.join("-")}` } })
            return yield* Effect.forkChild(Effect.exit(net.pay(path[0]!).pay(inv.invoice)))
          }))
        yield* net.runUntil(() => fibers.every((f) => f.pollUnsafe() !== undefined))
        for (let k = 0; k < fibers.length; k++) {
          const ok = succeeded(yield* Fiber.join(fibers[k]!))
          assert.strictEqual(ok.feePaidMsat, [...feesAlong(concurrent[k]!.path, concurrent[k]!.amount).values()].reduce((s, f) => s + f, 0n))
        }
        yield* net.settle()
        const end = yield* snapshot(net)
        const expectedNow = expectedChanges(7, concurrent)
        for (let i = 0; i < 7; i++) assert.strictEqual(end[i]! - start[i]!, expectedNow[i]!, `node ${i}'s balance change (concurrent)`)
        yield* assertNoHtlcs(net)
        assert.deepStrictEqual(net.h.violations, [])
      })))

  it.effect("twelve payments at once over 3 hops: each paid once with exact fees; a forwarder passes a burst of incoming HTLCs on together, not one at a time", () =>
    withNet("net-burst", 4, (net) =>
      Effect.gen(function*() {
        // The forwarders' outgoing adds, counted while in progress (the most at once, per node).
        const adding = [0, 0, 0, 0]
        const mostAtOnce = [0, 0, 0, 0]
        for (const i of [1, 2]) {
          net.managerWrappers[i] = (manager) => ({
            ...manager,
            addHtlc: (channelId, request) =>
              Effect.suspend(() => {
                adding[i]! += 1
                mostAtOnce[i] = Math.max(mostAtOnce[i]!, adding[i]!)
                return manager.addHtlc(channelId, request).pipe(Effect.ensuring(Effect.sync(() => void (adding[i]! -= 1))))
              })
          })
        }
        for (const [a, b] of [[0, 1], [1, 2], [2, 3]] as const) yield* net.channel(a, b, { pushMsat: 400_000_000n })
        for (const i of [1, 2]) yield* net.restart(i)
        for (const [a, b] of [[0, 1], [1, 2], [2, 3]] as const) yield* net.h.connect(a, b)
        yield* net.settle()
        const path = [0, 1, 2, 3]
        const payments = Array.from({ length: 12 }, (_, k) => ({ path, amount: 1_000_000n + 10_000n * BigInt(k) }))
        const start = yield* snapshot(net)
        const fibers = yield* Effect.forEach(payments, ({ amount }, k) =>
          Effect.gen(function*() {
            const inv = yield* net.pay(3).createInvoice({ amountMsat: msat(amount), description: { text: `burst ${k}` } })
            return yield* Effect.forkChild(Effect.exit(net.pay(0).pay(inv.invoice)))
          }))
        yield* net.runUntil(() => fibers.every((f) => f.pollUnsafe() !== undefined))
        for (let k = 0; k < fibers.length; k++) {
          const ok = succeeded(yield* Fiber.join(fibers[k]!))
          assert.strictEqual(ok.feePaidMsat, [...feesAlong(path, payments[k]!.amount).values()].reduce((s, f) => s + f, 0n))
        }
        yield* net.settle()
        const end = yield* snapshot(net)
        const expected = expectedChanges(4, payments)
        for (let i = 0; i < 4; i++) assert.strictEqual(end[i]! - start[i]!, expected[i]!, `node ${i}'s balance change`)
        yield* assertNoHtlcs(net)
        // Forwarded once each: 12 forwards and 12 fees per forwarder.
        for (const i of [1, 2]) assert.strictEqual(net.paymentEvents.filter((e) => e.node === i && e.event._tag === "HtlcForwarded").length, 12)
        // The HTLCs of one commitment_signed reach a forwarder together: its adds overlap.
        for (const i of [1, 2]) assert.isAbove(mostAtOnce[i]!, 1, `node ${i} forwarded one HTLC at a time`)
        assert.deepStrictEqual(net.h.violations, [])
      })))

  describe("a forwarder restarts in the middle of a 4-hop payment in a six-node line", () => {
    /**
     * 0 -> 1 -> 2 -> 3 -> 4 (and 4 - 5): holds link `from -> to` once `ready`, restarts node 2,
     * reconnects it and runs the payment to its end: paid once, every node's balance exact.
     */
    const scenario = (seed: string, from: number, to: number, ready: (net: PaymentNet) => boolean) =>
      withNet(seed, 6, (net) =>
        Effect.gen(function*() {
          for (let i = 0; i < 5; i++) yield* net.channel(i, i + 1)
          const amount = 9_000_000n
          const path = [0, 1, 2, 3, 4]
          const inv = yield* net.pay(4).createInvoice({ amountMsat: msat(amount), description: { text: seed } })
          const before = yield* snapshot(net)
          const paying = yield* Effect.forkChild(Effect.exit(net.pay(0).pay(inv.invoice)))
          for (let step = 0; step < 1000 && !ready(net); step++) {
            yield* net.h.deliverNext()
            for (let k = 0; k < 5; k++) yield* macrotask
          }
          assert.isTrue(ready(net), `${seed}: the payment did not reach the restart point`)
          net.h.hold(from, to)
          yield* net.settle(2)
          yield* net.restart(2)
          net.h.hold(from, to, false)
          yield* net.h.connect(1, 2)
          yield* net.h.connect(2, 3)
          yield* net.runUntil(() => paying.pollUnsafe() !== undefined)
          const ok = succeeded(yield* Fiber.join(paying))
          assert.isTrue(equalBytes(sha256(ok.preimage), inv.paymentHash))
          yield* net.settle()
          assert.strictEqual((yield* net.pay(4).invoice(inv.paymentHash))?.status, "paid")
          const after = yield* snapshot(net)
          const expected = expectedChanges(6, [{ path, amount }])
          for (let i = 0; i < 6; i++) assert.strictEqual(after[i]! - before[i]!, expected[i]!, `node ${i}'s balance change`)
          // The same payment id again: not paid twice.
          const again = yield* Effect.forkChild(Effect.exit(net.pay(0).pay(inv.invoice)))
          yield* net.runUntil(() => again.pollUnsafe() !== undefined)
          assert.strictEqual(toHex(succeeded(yield* Fiber.join(again)).preimage), toHex(ok.preimage))
          yield* net.settle()
          assert.strictEqual((yield* holdings(net, 0)) - before[0]!, expected[0]!)
          yield* assertNoHtlcs(net)
          assert.deepStrictEqual(net.h.violations, [])
        }))

    const sent = (net: PaymentNet, from: number, tag: string) => net.h.wire.some((m) => m.from === from && m.message._tag === tag)

    it.effect("after forwarding (its outgoing HTLC not delivered yet)", () => scenario("net-restart-fwd", 2, 3, (net) => sent(net, 2, "UpdateAddHtlc")))

    it.effect("with the fulfill on its way back (received from downstream, not passed upstream)", () =>
      scenario("net-restart-back", 2, 1, (net) => sent(net, 3, "UpdateFulfillHtlc")))
  })
})
