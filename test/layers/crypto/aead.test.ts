/**
 * The ChaCha20-Poly1305 implementations (noble; node, which routes short inputs to libsodium
 * and long ones to OpenSSL; and those two engines on their own) agree byte for byte, open each
 * other's boxes, reject tampering, and match the RFC 8439 §2.8.2 AEAD example.
 */
import fc from "fast-check"
import { beforeAll, describe, expect, it } from "vitest"
import { nodeChaChaPoly, opensslChaChaPoly } from "../../../src/layers/crypto/aead-node.ts"
import { isSodiumLoaded, loadSodium, sodiumChaChaPoly } from "../../../src/layers/crypto/aead-sodium.ts"
import { fromHex, toHex } from "../../../src/protocol/bytes.ts"
import { nobleChaChaPoly, type ChaChaPoly } from "../../../src/protocol/crypto/aead.ts"

const all: ReadonlyArray<ChaChaPoly> = [nobleChaChaPoly, nodeChaChaPoly, opensslChaChaPoly, sodiumChaChaPoly]

const rfcKey = fromHex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
const rfcNonce = fromHex("070000004041424344454647")
const rfcAad = fromHex("50515253c0c1c2c3c4c5c6c7")
const rfcPlaintext = new TextEncoder().encode(
  "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it."
)

// libsodium loads lazily (asynchronously); load it so that its calls below are libsodium's own.
beforeAll(async () => {
  expect(await loadSodium()).toBe(true)
  expect(isSodiumLoaded()).toBe(true)
})

describe.each(all.map((a) => [a.name, a] as const))("%s", (_name, aead) => {
  it("matches the RFC 8439 §2.8.2 AEAD example", () => {
    const sealed = aead.encrypt(rfcKey, rfcNonce, rfcAad, rfcPlaintext)
    expect(sealed.length).toBe(rfcPlaintext.length + 16)
    expect(toHex(sealed.subarray(0, 16))).toBe("d31a8d34648e60db7b86afbc53ef7ec2")
    expect(toHex(sealed.subarray(rfcPlaintext.length))).toBe("1ae10b594f09e26a7e902ecbd0600691")
    expect(aead.decrypt(rfcKey, rfcNonce, rfcAad, sealed)).toEqual(rfcPlaintext)
  })

  it("returns undefined, never throws, on short or forged boxes", () => {
    expect(aead.decrypt(rfcKey, rfcNonce, rfcAad, new Uint8Array(15))).toBeUndefined()
    expect(aead.decrypt(rfcKey, rfcNonce, rfcAad, new Uint8Array(16))).toBeUndefined()
    expect(aead.decrypt(rfcKey, rfcNonce, rfcAad, new Uint8Array(100))).toBeUndefined()
  })

  it("encryptInto writes the same box at an offset, touching nothing else", () => {
    const out = new Uint8Array(10 + rfcPlaintext.length + 16 + 10).fill(0xee)
    aead.encryptInto(rfcKey, rfcNonce, rfcAad, rfcPlaintext, out, 10)
    expect(toHex(out.subarray(10, 10 + rfcPlaintext.length + 16))).toBe(toHex(aead.encrypt(rfcKey, rfcNonce, rfcAad, rfcPlaintext)))
    expect(out.subarray(0, 10).every((b) => b === 0xee)).toBe(true)
    expect(out.subarray(out.length - 10).every((b) => b === 0xee)).toBe(true)
  })
})

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n })
// Lengths around every block boundary of ChaCha20 (64) and Poly1305 (16), and on both sides
// of the node implementation's switch from libsodium to OpenSSL (2048 bytes).
const plaintextArb = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 80 }),
  fc.uint8Array({ minLength: 100, maxLength: 700 }),
  fc.uint8Array({ minLength: 1000, maxLength: 3000 })
)

describe("cross-implementation properties", () => {
  it("all implementations produce the same box and open each other's", () => {
    fc.assert(
      fc.property(bytes(32), bytes(12), fc.uint8Array({ maxLength: 70 }), plaintextArb, (key, nonce, ad, plaintext) => {
        const boxes = all.map((a) => a.encrypt(key, nonce, ad, plaintext))
        const first = toHex(boxes[0] ?? new Uint8Array(0))
        for (const box of boxes) expect(toHex(box)).toBe(first)
        for (const a of all) expect(a.decrypt(key, nonce, ad, boxes[0] ?? new Uint8Array(0))).toEqual(plaintext)
      }),
      { numRuns: 1_500 }
    )
  })

  it("decrypt of arbitrary bytes returns undefined and never throws", () => {
    fc.assert(
      fc.property(bytes(32), bytes(12), fc.uint8Array({ maxLength: 20 }), fc.oneof(fc.uint8Array({ maxLength: 100 }), fc.uint8Array({ minLength: 500, maxLength: 1500 })), (key, nonce, ad, sealed) => {
        for (const a of all) expect(a.decrypt(key, nonce, ad, sealed)).toBeUndefined()
      }),
      { numRuns: 10_000 }
    )
  })

  it("every single-bit change of box, nonce or associated data is rejected", () => {
    fc.assert(
      fc.property(bytes(32), bytes(12), fc.uint8Array({ maxLength: 40 }), plaintextArb, fc.nat(), fc.nat(7), fc.constantFrom(0, 1, 2), (key, nonce, ad, plaintext, pos, bit, where) => {
        const box = nobleChaChaPoly.encrypt(key, nonce, ad, plaintext)
        const flip = (b: Uint8Array): Uint8Array => {
          const c = Uint8Array.from(b)
          if (c.length === 0) return Uint8Array.of(1)
          const i = pos % c.length
          c[i] = (c[i] ?? 0) ^ (1 << bit)
          return c
        }
        for (const a of all) {
          const r =
            where === 0 ? a.decrypt(key, nonce, ad, flip(box)) : where === 1 ? a.decrypt(key, flip(nonce), ad, box) : a.decrypt(key, nonce, flip(ad), box)
          expect(r).toBeUndefined()
        }
      }),
      { numRuns: 1_000 }
    )
  })
})

describe("detached sealing and allocation", () => {
  it("encryptDetached is encrypt split in two, for every implementation and size class", () => {
    fc.assert(
      fc.property(bytes(32), bytes(12), fc.uint8Array({ maxLength: 30 }), plaintextArb, (key, nonce, ad, plaintext) => {
        const whole = toHex(nobleChaChaPoly.encrypt(key, nonce, ad, plaintext))
        for (const a of all) {
          const { ciphertext, tag } = a.encryptDetached(key, nonce, ad, plaintext)
          expect(tag.length).toBe(16)
          expect(toHex(ciphertext) + toHex(tag)).toBe(whole)
        }
      }),
      { numRuns: 300 }
    )
  })

  it("allocate returns distinct, writable buffers of the requested size", () => {
    for (const a of all) {
      for (const n of [0, 2, 134, 2048, 2049, 4096, 65569]) {
        const x = a.allocate(n)
        const y = a.allocate(n)
        expect(x.length).toBe(n)
        x.fill(1)
        y.fill(2)
        expect(x.every((b) => b === 1)).toBe(true)
      }
    }
  })

  it("outputs are plain Uint8Arrays, not Buffers (whose slice would share memory)", () => {
    for (const a of all) {
      const sealed = a.encrypt(rfcKey, rfcNonce, rfcAad, new Uint8Array(3000))
      expect(Buffer.isBuffer(sealed)).toBe(false)
      const opened = a.decrypt(rfcKey, rfcNonce, rfcAad, sealed)
      expect(opened !== undefined && Buffer.isBuffer(opened)).toBe(false)
      const d = a.encryptDetached(rfcKey, rfcNonce, rfcAad, new Uint8Array(3000))
      expect(Buffer.isBuffer(d.ciphertext) || Buffer.isBuffer(d.tag)).toBe(false)
    }
  })
})
