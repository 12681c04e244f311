import fc from "fast-check"
import { hmac } from "@noble/hashes/hmac.js"
import { sha256 } from "@noble/hashes/sha2.js"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import vector from "../../vectors/bolt04/onion-test.json" with { type: "json" }
import errorVector from "../../vectors/bolt04/onion-error-test.json" with { type: "json" }
import { fromHex, toHex } from "../../../src/protocol/bytes.ts"
import {
  buildOnion,
  deriveKey,
  deriveSessionKeys,
  ecdhWithSecret,
  generateStream,
  generateStreamFrom,
  hmacSha256,
  hopShiftSize,
  PACKET_OVERHEAD,
  parseOnionPacket,
  PAYMENT_ONION_SIZE,
  peelOnion,
  peelOnionBytes,
  peelWithSharedSecret,
  serializeOnionPacket,
  xorInto
} from "../../../src/protocol/onion/index.ts"
import { IMPLEMENTATIONS, nodeAt, routeArbitrary, secp, sessionKeyOf, stripLength } from "./fixtures.ts"

const ad = fromHex(vector.generate.associated_data)

describe("Sphinx (BOLT 4 onion-test.json)", () => {
  const hops = vector.generate.hops.map((h) => ({ publicKey: fromHex(h.pubkey), payload: stripLength(fromHex(h.payload)) }))

  it.each(IMPLEMENTATIONS.map((impl) => [impl.name, impl] as const))("builds the exact 1366-byte onion of the vector (%s)", (_, impl) => {
    const built = buildOnion(impl, fromHex(vector.generate.session_key), hops, ad)
    expect(Result.isSuccess(built)).toBe(true)
    if (Result.isFailure(built)) return
    const bytes = serializeOnionPacket(built.success.packet)
    expect(bytes.length).toBe(PAYMENT_ONION_SIZE)
    expect(toHex(bytes)).toBe(vector.onion)
  })

  it.each(IMPLEMENTATIONS.map((impl) => [impl.name, impl] as const))("peels hop by hop to exactly the payloads that went in (%s)", (_, impl) => {
    let onion = fromHex(vector.onion)
    vector.decode.forEach((key, i) => {
      const peeled = peelOnionBytes(impl, ecdhWithSecret(impl, fromHex(key)), onion, ad)
      if (Result.isFailure(peeled)) throw new Error(`hop ${i}: ${peeled.failure._tag}`)
      expect(toHex(peeled.success.payload)).toBe(toHex(hops[i]?.payload ?? new Uint8Array()))
      const last = i === vector.decode.length - 1
      expect(peeled.success.next === undefined).toBe(last)
      if (peeled.success.next !== undefined) onion = serializeOnionPacket(peeled.success.next)
    })
  })

  it("derives the shared secrets of onion-error-test.json from the session key", () => {
    const keys = deriveSessionKeys(secp, fromHex(errorVector.generate.session_key), errorVector.generate.hops.map((h) => fromHex(h.pubkey)))
    if (Result.isFailure(keys)) throw new Error(keys.failure._tag)
    expect(keys.success.sharedSecrets.map(toHex)).toEqual(errorVector.generate.hops.map((h) => h.hop_shared_secret))
  })

  it("rejects a wrong associated data, a wrong node and a bad version with typed errors", () => {
    const onion = fromHex(vector.onion)
    const alice = ecdhWithSecret(secp, fromHex(vector.decode[0] ?? ""))
    const bob = ecdhWithSecret(secp, fromHex(vector.decode[1] ?? ""))
    const wrongAd = peelOnionBytes(secp, alice, onion, new Uint8Array(32))
    expect(Result.isFailure(wrongAd) && wrongAd.failure._tag).toBe("InvalidOnionHmac")
    const wrongNode = peelOnionBytes(secp, bob, onion, ad)
    expect(Result.isFailure(wrongNode) && wrongNode.failure._tag).toBe("InvalidOnionHmac")
    const v1 = onion.slice()
    v1[0] = 1
    const badVersion = peelOnionBytes(secp, alice, v1, ad)
    expect(Result.isFailure(badVersion) && badVersion.failure._tag).toBe("InvalidOnionVersion")
    const badKey = onion.slice()
    badKey[1] = 0x05
    const k = peelOnionBytes(secp, alice, badKey, ad)
    expect(Result.isFailure(k) && k.failure._tag).toBe("InvalidOnionKey")
    const short = peelOnionBytes(secp, alice, onion.slice(0, 1000), ad, { payloadsSize: 1300 })
    expect(Result.isFailure(short) && short.failure._tag).toBe("InvalidOnionLength")
  })

  it("refuses payloads that do not fit, and an empty route", () => {
    const big = [{ publicKey: nodeAt(0).publicKey, payload: new Uint8Array(1300) }]
    const r = buildOnion(secp, sessionKeyOf(1), big, ad)
    expect(Result.isFailure(r) && r.failure._tag).toBe("PayloadsTooLarge")
    const e = buildOnion(secp, sessionKeyOf(1), [], ad)
    expect(Result.isFailure(e) && e.failure._tag).toBe("EmptyRoute")
    const badHop = buildOnion(secp, sessionKeyOf(1), [{ publicKey: new Uint8Array(33), payload: new Uint8Array(10) }], ad)
    expect(Result.isFailure(badHop) && badHop.failure._tag).toBe("InvalidHopPublicKey")
    const badSession = buildOnion(secp, new Uint8Array(32), [{ publicKey: nodeAt(0).publicKey, payload: new Uint8Array(10) }], ad)
    expect(Result.isFailure(badSession) && badSession.failure._tag).toBe("InvalidSessionKey")
  })

  it("uses the packet size as a parameter (onion messages pick theirs)", () => {
    for (const size of [64 + 35 * 2, 5000]) {
      const hops2 = [0, 1].map((i) => ({ publicKey: nodeAt(i).publicKey, payload: new Uint8Array(20).fill(i + 1) }))
      const built = buildOnion(secp, sessionKeyOf(2), hops2, new Uint8Array(0), size)
      if (Result.isFailure(built)) throw new Error(built.failure._tag)
      const bytes = serializeOnionPacket(built.success.packet)
      expect(bytes.length).toBe(size + 66)
      const first = peelOnionBytes(secp, nodeAt(0).ecdh, bytes, new Uint8Array(0))
      if (Result.isFailure(first) || first.success.next === undefined) throw new Error("first hop")
      expect(first.success.payload).toEqual(hops2[0]?.payload)
      const second = peelOnionBytes(secp, nodeAt(1).ecdh, serializeOnionPacket(first.success.next), new Uint8Array(0))
      expect(Result.isSuccess(second) && second.success.next === undefined).toBe(true)
    }
  })
})

describe("Sphinx properties", () => {
  it("key generation (pre-keyed HMACs copied per derivation) equals HMAC-SHA256(key type, secret) for any order of types and secrets", () => {
    const types = ["rho", "mu", "um", "pad", "ammag", "ammagext", "blinded_node_id"] as const
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...types), fc.uint8Array({ minLength: 0, maxLength: 80 })), { minLength: 1, maxLength: 12 }), (steps) => {
        for (const [type, secret] of steps) {
          expect(toHex(deriveKey(type, secret))).toBe(toHex(hmac(sha256, new TextEncoder().encode(type), secret)))
        }
      }),
      { numRuns: 300 }
    )
  })
  it("the stream from an offset (ChaCha20 block counter) is the stream's tail from that byte", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.nat(2_700), fc.nat(1_400), (key, offset, length) => {
        expect(toHex(generateStreamFrom(key, offset, length))).toBe(toHex(generateStream(key, offset + length).subarray(offset)))
      }),
      { numRuns: 200 }
    )
  })
  it("random onions for random routes (1..20 hops) peel to exactly the payloads that went in", () => {
    fc.assert(
      fc.property(routeArbitrary(), ({ hops, payloads, seed }) => {
        const route = payloads.map((payload, i) => ({ publicKey: nodeAt(i).publicKey, payload }))
        const total = payloads.reduce((n, p) => n + hopShiftSize(p.length), 0)
        const built = buildOnion(secp, sessionKeyOf(seed), route, ad)
        if (total > 1300) return Result.isFailure(built)
        if (Result.isFailure(built)) return false
        let onion = serializeOnionPacket(built.success.packet)
        for (let i = 0; i < hops; i++) {
          const peeled = peelOnionBytes(secp, nodeAt(i).ecdh, onion, ad)
          if (Result.isFailure(peeled)) return false
          if (toHex(peeled.success.payload) !== toHex(payloads[i] ?? new Uint8Array())) return false
          if (toHex(peeled.success.sharedSecret) !== toHex(built.success.sharedSecrets[i] ?? new Uint8Array())) return false
          if ((peeled.success.next === undefined) !== (i === hops - 1)) return false
          if (peeled.success.next !== undefined) onion = serializeOnionPacket(peeled.success.next)
        }
        return true
      }),
      { numRuns: 150 }
    )
  })

  it("a mutated onion fails cleanly with a typed error (never throws)", () => {
    const route = [0, 1, 2].map((i) => ({ publicKey: nodeAt(i).publicKey, payload: new Uint8Array(30).fill(i) }))
    const built = buildOnion(secp, sessionKeyOf(3), route, ad)
    if (Result.isFailure(built)) throw new Error(built.failure._tag)
    const onion = serializeOnionPacket(built.success.packet)
    fc.assert(
      fc.property(fc.integer({ min: 0, max: onion.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, flip) => {
        const mutated = onion.slice()
        mutated[at] = (mutated[at] ?? 0) ^ flip
        const r = peelOnionBytes(secp, nodeAt(0).ecdh, mutated, ad)
        if (Result.isSuccess(r)) return false
        const tag = r.failure._tag
        if (at === 0) return tag === "InvalidOnionVersion"
        if (at < 34) return tag === "InvalidOnionKey" || tag === "InvalidOnionHmac"
        return tag === "InvalidOnionHmac"
      }),
      { numRuns: 300 }
    )
  })

  it("arbitrary bytes as an onion give the typed error their first bad field calls for (10,000 runs)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 1400 }), fc.boolean(), (bytes, forceVersion) => {
        const b = bytes.slice()
        if (forceVersion && b.length > 0) b[0] = 0
        const r = peelOnionBytes(secp, nodeAt(0).ecdh, b, ad)
        // Random bytes never carry a valid HMAC, so the result is always a failure.
        if (Result.isSuccess(r)) return false
        const tag = r.failure._tag
        if (b.length < PACKET_OVERHEAD + 1) return tag === "InvalidOnionLength"
        if (b[0] !== 0) return tag === "InvalidOnionVersion"
        return tag === "InvalidOnionKey" || tag === "InvalidOnionHmac"
      }),
      { numRuns: 10_000 }
    )
  })

  it("a hand-built packet with a wrong-sized key fails as InvalidOnionKey instead of throwing", () => {
    const packet = { version: 0, publicKey: new Uint8Array(100).fill(2), hopPayloads: new Uint8Array(0), hmac: new Uint8Array(32) }
    expect(serializeOnionPacket(packet).length).toBe(1 + 100 + 32)
    const r = peelOnion(secp, nodeAt(0).ecdh, packet, ad)
    expect(Result.isFailure(r) && r.failure._tag).toBe("InvalidOnionKey")
  })

  it("authenticated but badly framed hop data: each framing error is told apart", () => {
    // Packets whose HMAC holds for the given secret and whose decrypted payloads start with `plain`.
    const secret = sessionKeyOf(40)
    const size = 1300
    const craft = (plain: Uint8Array) => {
      const hopPayloads = generateStream(deriveKey("rho", secret), size)
      xorInto(hopPayloads, plain)
      const hmac = hmacSha256(deriveKey("mu", secret), hopPayloads, ad)
      return { version: 0, publicKey: nodeAt(0).publicKey, hopPayloads, hmac }
    }
    const reasonOf = (plain: Uint8Array, minPayloadLength?: number) => {
      const r = peelWithSharedSecret(secp, craft(plain), secret, ad, minPayloadLength === undefined ? {} : { minPayloadLength })
      return Result.isFailure(r) && r.failure._tag === "InvalidHopFraming" ? r.failure.reason : undefined
    }
    // 0x0005 written in three bytes is not canonical BigSize.
    expect(reasonOf(fromHex("fd0005"))).toBe("malformed_length")
    expect(reasonOf(fromHex("01"))).toBe("length_too_small")
    // 1266 bytes of payload + 3 of length + 32 of HMAC overrun the 1300 bytes.
    expect(reasonOf(fromHex("fd04f2"))).toBe("truncated")
    // An 8-byte BigSize beyond 2^53 is still a typed error.
    expect(reasonOf(fromHex("ff0100000000000000"))).toBe("truncated")
    // The same framing passes where the limits allow it: length 1 with no minimum, final hop.
    const ok = peelWithSharedSecret(secp, craft(fromHex("01aa")), secret, ad, { minPayloadLength: 0 })
    expect(Result.isSuccess(ok) && [toHex(ok.success.payload), ok.success.payloadOffset, ok.success.next]).toEqual(["aa", 1, undefined])
    // 1265 bytes + 3 + 32 fill the packet exactly.
    const full = peelWithSharedSecret(secp, craft(fromHex("fd04f1")), secret, ad)
    expect(Result.isSuccess(full) && [full.success.payload.length, full.success.payloadOffset]).toEqual([1265, 3])
  })

  it("a packet whose HMAC holds but whose framing is bad yields InvalidHopFraming", () => {
    // Build with a 1-byte payload (reserved length): HMAC is valid, the reader refuses it.
    const r = buildOnion(secp, sessionKeyOf(4), [{ publicKey: nodeAt(0).publicKey, payload: new Uint8Array(1) }], ad)
    if (Result.isFailure(r)) throw new Error(r.failure._tag)
    const peeled = peelOnionBytes(secp, nodeAt(0).ecdh, serializeOnionPacket(r.success.packet), ad)
    expect(Result.isFailure(peeled) && peeled.failure._tag).toBe("InvalidHopFraming")
    const parsed = parseOnionPacket(serializeOnionPacket(r.success.packet), 1300)
    expect(Result.isSuccess(parsed)).toBe(true)
  })
})
