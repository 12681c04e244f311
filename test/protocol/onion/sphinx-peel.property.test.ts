/**
 * `peelWithSharedSecret` decrypts `hop_payloads` only as far as it reads it (a final hop: its
 * length, payload and HMAC): every layer of every onion, and packets whose framing is garbage
 * under a valid HMAC (malformed, too small, truncated lengths; random next HMACs), peel to exactly
 * what the plain form (the whole payloads decrypted at once, `sphinx-reference.ts`) gives.
 */
import fc from "fast-check"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { buildOnion, deriveKey, hmacSha256, type OnionPacket, peelWithSharedSecret, xorStreamInPlace } from "../../../src/protocol/onion/index.ts"
import { nodeAt, secp, sessionKeyOf } from "./fixtures.ts"
import { peelWithSharedSecretPlain } from "./sphinx-reference.ts"

const RUNS = 150

/** Payloads of any size up to what a 1..5-hop route of `size` bytes holds (some past the first two stream blocks). */
const routeOf = (size: number) =>
  fc.integer({ min: 1, max: 5 }).chain((hops) =>
    fc.record({
      hops: fc.constant(hops),
      payloads: fc.array(fc.uint8Array({ minLength: 2, maxLength: Math.max(2, Math.floor(size / hops) - 35) }), { minLength: hops, maxLength: hops }),
      seed: fc.integer(),
      ad: fc.uint8Array({ minLength: 0, maxLength: 40 })
    })
  )

const sizes = fc.oneof(fc.constant(1300), fc.integer({ min: 80, max: 700 }))

describe("peelWithSharedSecret: partial decryption", () => {
  it("peels every layer of built onions as the plain form does", () => {
    fc.assert(
      fc.property(sizes.chain((size) => fc.tuple(fc.constant(size), routeOf(size))), ([size, r]) => {
        const hops = r.payloads.map((payload, i) => ({ publicKey: nodeAt(i).publicKey, payload }))
        const built = buildOnion(secp, sessionKeyOf(r.seed), hops, r.ad, size)
        if (Result.isFailure(built)) return
        let packet: OnionPacket | undefined = built.success.packet
        for (let i = 0; i < hops.length && packet !== undefined; i++) {
          const secret = built.success.sharedSecrets[i]!
          const fast = peelWithSharedSecret(secp, packet, secret, r.ad)
          expect(fast).toEqual(peelWithSharedSecretPlain(secp, packet, secret, r.ad))
          packet = Result.isSuccess(fast) ? fast.success.next : undefined
        }
      }),
      { numRuns: RUNS }
    )
  })

  it("peels packets of garbage framing under a valid HMAC as the plain form does", () => {
    const packetArb = fc.record({
      size: fc.oneof(fc.constant(1300), fc.integer({ min: 1, max: 300 })),
      seed: fc.integer({ min: 0, max: 5 }),
      secret: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      ad: fc.uint8Array({ minLength: 0, maxLength: 32 }),
      // The first bytes after decryption decide the framing: steer them (BigSize prefixes 0xfd..0xff, tiny and huge lengths).
      clearStart: fc.uint8Array({ minLength: 0, maxLength: 12 }),
      body: fc.uint8Array({ minLength: 1300, maxLength: 1300 }),
      zeroHmacAt: fc.option(fc.integer({ min: 0, max: 1300 }), { nil: undefined }),
      minPayloadLength: fc.constantFrom(0, 2)
    })
    fc.assert(
      fc.property(packetArb, (p) => {
        // Clear text: steered start, random rest, optionally an all-zero "next HMAC" somewhere; then encrypted with rho.
        const clear = p.body.slice(0, p.size)
        clear.set(p.clearStart.subarray(0, p.size))
        if (p.zeroHmacAt !== undefined) clear.fill(0, p.zeroHmacAt, p.zeroHmacAt + 32)
        const rho = deriveKey("rho", p.secret)
        const stream = buildStream(rho, p.size)
        const hopPayloads = clear.map((b, i) => b ^ stream[i]!)
        // A wire-like packet: the payloads at an odd offset of a larger buffer, as parsed from a message.
        const wire = new Uint8Array(p.size + 66)
        wire.set(hopPayloads, 34)
        const packet: OnionPacket = {
          version: 0,
          publicKey: nodeAt(p.seed).publicKey,
          hopPayloads: wire.subarray(34, 34 + p.size),
          hmac: hmacSha256(deriveKey("mu", p.secret), hopPayloads, p.ad)
        }
        const options = { minPayloadLength: p.minPayloadLength }
        expect(peelWithSharedSecret(secp, packet, p.secret, p.ad, options)).toEqual(peelWithSharedSecretPlain(secp, packet, p.secret, p.ad, options))
      }),
      { numRuns: RUNS * 2 }
    )
  })
})

/** The rho keystream: zeros XORed with it. */
const buildStream = (key: Uint8Array, length: number): Uint8Array => xorStreamInPlace(key, new Uint8Array(length))
