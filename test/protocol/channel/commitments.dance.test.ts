/**
 * The BOLT 2 "Normal Operation" dance between two of our `Commitments`, each with its own
 * signer: add -> commit -> revoke -> commit -> revoke -> fulfill -> ..., both sides agreeing on
 * both commitments (same txids) with balances conserved after every message; and a fast-check
 * property over random interleavings of adds, fulfills, fails, fee updates, commits and
 * deliveries on both sides.
 */
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { Schema } from "effect"
import { anchorsZeroFeeHtlcTx, staticRemoteKey } from "../../../src/protocol/channel-type.ts"
import { CommitmentsSchema } from "../../../src/protocol/channel/commitments.ts"
import { Pair, snapshot, type Name } from "./harness.ts"

const step = (pair: Pair, to: Name): void => {
  expect(pair.deliver(to)).toBe(true)
  pair.checkAgreement()
}

describe.each([staticRemoteKey, anchorsZeroFeeHtlcTx])("commitment dance ($name)", (type) => {
  it("add, commit, revoke, commit, revoke, fulfill, commit, revoke, commit, revoke", () => {
    const pair = new Pair({ type })
    pair.checkAgreement()
    const aliceStart = pair.balance("alice")
    const bobStart = pair.balance("bob")
    expect(pair.add("alice", 50_000_000n)).toBe("ok")
    step(pair, "bob") // update_add_htlc
    expect(pair.sign("alice")).toBe("ok")
    step(pair, "bob") // commitment_signed -> revoke_and_ack
    step(pair, "alice") // revoke_and_ack
    expect(pair.sign("bob")).toBe("ok")
    step(pair, "alice") // commitment_signed -> revoke_and_ack
    step(pair, "bob") // revoke_and_ack
    // The HTLC is irrevocably committed on both sides.
    expect(pair.nodes.alice.c.localCommit.spec.htlcs).toHaveLength(1)
    expect(pair.nodes.bob.c.localCommit.spec.htlcs).toHaveLength(1)
    expect(pair.nodes.alice.c.localCommit.number).toBe(1n)
    expect(pair.nodes.bob.c.localCommit.number).toBe(1n)
    expect(pair.fulfill("bob", 0n)).toBe("ok")
    step(pair, "alice")
    expect(pair.sign("bob")).toBe("ok")
    step(pair, "alice")
    step(pair, "bob")
    expect(pair.sign("alice")).toBe("ok")
    step(pair, "bob")
    step(pair, "alice")
    expect(pair.nodes.alice.c.localCommit.spec.htlcs).toHaveLength(0)
    expect(pair.nodes.bob.c.localCommit.spec.htlcs).toHaveLength(0)
    expect(pair.balance("alice")).toBe(aliceStart - 50_000_000n)
    expect(pair.balance("bob")).toBe(bobStart + 50_000_000n)
    expect(pair.nodes.alice.c.localCommit.number).toBe(2n)
    expect(pair.nodes.bob.c.remotePerCommitmentSecrets.lastIndex).toBe((1n << 48n) - 1n - 1n)
  })

  it("batches many updates of both sides in one commitment, with a fee update and a fail", () => {
    const pair = new Pair({ type })
    for (let i = 0; i < 5; i++) expect(pair.add("alice", 1_000_000n + BigInt(i) * 100_000n)).toBe("ok")
    for (let i = 0; i < 3; i++) expect(pair.add("bob", 2_000_000n)).toBe("ok")
    // Dust HTLCs (trimmed) too.
    expect(pair.add("alice", 100_000n)).toBe("ok")
    expect(pair.add("bob", 200_000n)).toBe("ok")
    expect(pair.fee(3_000)).toBe("ok")
    pair.settle()
    pair.checkAgreement()
    expect(pair.nodes.alice.c.localCommit.spec.htlcs).toHaveLength(10)
    expect(pair.nodes.bob.c.localCommit.spec.feeratePerKw).toBe(3_000)
    for (let id = 0n; id < 6n; id++) expect(pair.fulfill("bob", id)).toBe("ok")
    for (let id = 0n; id < 4n; id++) expect(pair.fail("alice", id)).toBe("ok")
    pair.settle()
    pair.checkAgreement()
    expect(pair.nodes.alice.c.localCommit.spec.htlcs).toHaveLength(0)
    expect(pair.nodes.bob.c.localCommit.spec.htlcs).toHaveLength(0)
    // Round trip of the persisted state.
    for (const n of ["alice", "bob"] as const) {
      const c = pair.nodes[n].c
      const decoded = Schema.decodeUnknownSync(CommitmentsSchema)(JSON.parse(snapshot(c)))
      expect(snapshot(decoded)).toBe(snapshot(c))
    }
  })

  it("commitments cross (both sign at once) and still agree", () => {
    const pair = new Pair({ type })
    expect(pair.add("alice", 5_000_000n)).toBe("ok")
    expect(pair.add("bob", 6_000_000n)).toBe("ok")
    expect(pair.sign("alice")).toBe("ok")
    expect(pair.sign("bob")).toBe("ok")
    // Each side receives the other's add, then its commitment_signed.
    step(pair, "alice")
    step(pair, "bob")
    step(pair, "alice")
    step(pair, "bob")
    pair.settle()
    pair.checkAgreement()
    expect(pair.nodes.alice.c.localCommit.spec.htlcs).toHaveLength(2)
  })
})

type Command =
  | { readonly t: "add"; readonly from: Name; readonly amount: bigint }
  | { readonly t: "fulfill" | "fail"; readonly by: Name; readonly pick: number }
  | { readonly t: "fee"; readonly feerate: number }
  | { readonly t: "sign"; readonly who: Name }
  | { readonly t: "deliver"; readonly to: Name }
  | { readonly t: "settle" }

const name = fc.constantFrom<Name>("alice", "bob")
const command: fc.Arbitrary<Command> = fc.oneof(
  { arbitrary: fc.record({ t: fc.constant("add" as const), from: name, amount: fc.bigInt({ min: 1_000n, max: 40_000_000n }) }), weight: 3 },
  { arbitrary: fc.record({ t: fc.constantFrom("fulfill" as const, "fail" as const), by: name, pick: fc.nat() }), weight: 3 },
  { arbitrary: fc.record({ t: fc.constant("fee" as const), feerate: fc.integer({ min: 253, max: 10_000 }) }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant("sign" as const), who: name }), weight: 3 },
  { arbitrary: fc.record({ t: fc.constant("deliver" as const), to: name }), weight: 6 },
  { arbitrary: fc.record({ t: fc.constant("settle" as const) }), weight: 1 }
)

/** How many commands of each kind were accepted, over a whole property run. */
const accepted = new Map<string, number>()
const count = (kind: string, result: string): void => {
  if (result === "ok") accepted.set(kind, (accepted.get(kind) ?? 0) + 1)
}

const run = (pair: Pair, cmd: Command): void => {
  switch (cmd.t) {
    case "add":
      count("add", pair.add(cmd.from, cmd.amount))
      break
    case "fulfill":
    case "fail": {
      // One of the HTLCs the other side offered, in our current commitment.
      const incoming = pair.nodes[cmd.by].c.localCommit.spec.htlcs.filter((h) => h.direction === "received")
      const h = incoming[cmd.pick % Math.max(1, incoming.length)]
      if (h !== undefined) count(cmd.t, cmd.t === "fulfill" ? pair.fulfill(cmd.by, h.id) : pair.fail(cmd.by, h.id))
      break
    }
    case "fee":
      count("fee", pair.fee(cmd.feerate))
      break
    case "sign":
      count("sign", pair.sign(cmd.who))
      break
    case "deliver":
      pair.deliver(cmd.to)
      break
    case "settle":
      pair.settle()
      break
  }
}

describe.each([staticRemoteKey, anchorsZeroFeeHtlcTx])("random updates on both sides ($name)", (type) => {
  it("both sides agree on both commitments and balances are conserved after every step", () => {
    accepted.clear()
    fc.assert(
      fc.property(fc.array(command, { minLength: 20, maxLength: 80, size: "max" }), (commands) => {
        const pair = new Pair({ type })
        for (const cmd of commands) {
          run(pair, cmd)
          pair.checkAgreement()
        }
        pair.settle()
        pair.checkAgreement()
        // Quiet: both current commitments hold the same HTLCs and balances, mirrored.
        const a = pair.nodes.alice.c.localCommit.spec
        const b = pair.nodes.bob.c.localCommit.spec
        expect(a.toLocal).toBe(b.toRemote)
        expect(a.toRemote).toBe(b.toLocal)
        expect(a.feeratePerKw).toBe(b.feeratePerKw)
        expect(a.htlcs.map((h) => `${h.direction === "offered" ? "alice" : "bob"}/${h.id}`).sort()).toEqual(
          b.htlcs.map((h) => `${h.direction === "offered" ? "bob" : "alice"}/${h.id}`).sort()
        )
        for (const n of ["alice", "bob"] as const) {
          expect(pair.queues[n]).toHaveLength(0)
          expect(pair.nodes[n].c.owedRevocation).toBeNull()
        }
      }),
      { numRuns: 25 }
    )
    // The runs exercised every kind of update, not only refusals.
    for (const kind of ["add", "fulfill", "fail", "fee", "sign"]) expect([kind, accepted.get(kind) ?? 0]).not.toEqual([kind, 0])
  })
})
