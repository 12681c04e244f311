/**
 * The insecure test-only crypto keeps the algebra the protocol relies on (ECDH agrees both ways,
 * point and secret tweaks commute with key derivation, recovery finds the signer), and a whole
 * scenario runs on it with every invariant holding.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { describe, expect, it } from "vitest"
import { runScenario } from "../../../src/sim/index.ts"
import { insecureSecp256k1 as secp } from "../../../src/testing/index.ts"
import { equalBytes } from "../../../src/protocol/bytes.ts"

const key = (label: string): Uint8Array => sha256(new TextEncoder().encode(label))

describe("insecure crypto", () => {
  it("keeps the identities BOLT 3, 4 and 8 use", () => {
    const a = key("a")
    const b = key("b")
    const A = secp.publicKey(a)!
    const B = secp.publicKey(b)!
    expect(A.length).toBe(33)
    expect(secp.isValidPoint(A)).toBe(true)
    expect(equalBytes(secp.ecdh(a, B)!, secp.ecdh(b, A)!)).toBe(true)
    expect(secp.ecdh(a, B)!.length).toBe(32)
    // pubkey(a + b) = A + B; pubkey(a * t) = A * t; pubkey(a + t) = A + t*G.
    expect(equalBytes(secp.publicKey(secp.secretAdd(a, b)!)!, secp.pointAdd(A, B)!)).toBe(true)
    const t = key("t")
    expect(equalBytes(secp.publicKey(secp.secretMultiply(a, t)!)!, secp.pointMultiply(A, t)!)).toBe(true)
    expect(equalBytes(secp.publicKey(secp.secretAdd(a, t)!)!, secp.pointTweakAdd(A, t)!)).toBe(true)
    const digest = key("digest")
    const { signature, recovery } = secp.signRecoverable(digest, a)
    expect(equalBytes(secp.recover(signature, recovery, digest)!, A)).toBe(true)
    expect(secp.verify(signature, digest, B)).toBe(true)
    expect(secp.isValidSecret(new Uint8Array(32))).toBe(false)
  })

  it("runs a scenario with every invariant holding", async () => {
    const r = await runScenario(
      {
        name: "insecure-ring",
        nodes: { count: 6 },
        channels: [{ kind: "ring", capacitySat: { kind: "constant", value: 1_000_000 }, pushFraction: 0.5 }],
        workload: { payments: 20, durationSeconds: 10, amountMsat: { kind: "uniform", min: 1_000_000, max: 20_000_000 }, pairs: { kind: "uniform" } },
        faults: [{ kind: "crash", node: 2, atSeconds: 4, restartAfterSeconds: 2 }]
      },
      { seed: 8, secp }
    )
    expect(r.summary.invariantViolations).toEqual([])
    expect(r.summary.payments.succeeded).toBeGreaterThan(10)
  }, 60_000)
})
