/** Shared test fixtures for the onion tests: deterministic node keys and small helpers. */
import { sha256 } from "@noble/hashes/sha2.js"
import fc from "fast-check"
import { wasmSecp256k1 } from "../../../src/layers/crypto/secp256k1-wasm.ts"
import type { Secp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import { secp256k1Backends } from "../../layers/crypto/backends.ts"
import { ecdhWithSecret, type NodeEcdh } from "../../../src/protocol/onion/index.ts"

/**
 * Property tests run on libsecp256k1 (WASM) for speed; the spec vectors run on every
 * implementation (`IMPLEMENTATIONS`: noble, WASM, native), so the pure-JS path is covered too.
 */
export const secp: Secp256k1 = wasmSecp256k1
export const IMPLEMENTATIONS: ReadonlyArray<Secp256k1> = secp256k1Backends

export interface TestNode {
  readonly secret: Uint8Array
  readonly publicKey: Uint8Array
  readonly ecdh: NodeEcdh
}

const makeNode = (i: number): TestNode => {
  const secret = sha256(new TextEncoder().encode(`onion test node ${i}`))
  const publicKey = secp.publicKey(secret)
  if (publicKey === undefined) throw new Error("fixture key invalid")
  return { secret, publicKey, ecdh: ecdhWithSecret(secp, secret) }
}

/** 20 fixed nodes: property tests pick routes among them (key generation is the slow part). */
export const NODES: ReadonlyArray<TestNode> = Array.from({ length: 20 }, (_, i) => makeNode(i))

export const nodeAt = (i: number): TestNode => NODES[i % NODES.length] ?? makeNode(i)

/** A valid 32-byte session key derived from a seed. */
export const sessionKeyOf = (seed: number): Uint8Array => sha256(new TextEncoder().encode(`session ${seed}`))

/** Strips the BigSize length prefix the spec vectors put in front of payloads. */
export const stripLength = (p: Uint8Array): Uint8Array => ((p[0] ?? 0) < 0xfd ? p.slice(1) : p.slice(3))

/** Routes of 1..20 hops with payload sizes that fit in 1300 bytes together. */
export const routeArbitrary = (maxHops = 20): fc.Arbitrary<{ readonly hops: number; readonly payloads: ReadonlyArray<Uint8Array>; readonly seed: number }> =>
  fc.integer({ min: 1, max: maxHops }).chain((hops) => {
    // Each hop takes payload + 1..3 (length) + 32 (hmac): keep the sum under 1300.
    const budget = Math.floor(1300 / hops) - 35
    return fc.record({
      hops: fc.constant(hops),
      payloads: fc.array(fc.uint8Array({ minLength: 2, maxLength: Math.max(2, budget) }), { minLength: hops, maxLength: hops }),
      seed: fc.integer()
    })
  })
