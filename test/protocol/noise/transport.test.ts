/**
 * BOLT 8 transport: the spec's message-encryption vector (1002 "hello" messages, key rotation
 * at nonce 1000) with both ChaCha20-Poly1305 implementations, sent and received; round trips,
 * cross-implementation compatibility, tampering and size limits as properties.
 */
import { Result } from "effect"
import fc from "fast-check"
import { beforeAll, describe, expect, it } from "vitest"
import vectors from "../../vectors/bolt08-transport.json" with { type: "json" }
import { nodeChaChaPoly, opensslChaChaPoly } from "../../../src/layers/crypto/aead-node.ts"
import { loadSodium, sodiumChaChaPoly } from "../../../src/layers/crypto/aead-sodium.ts"
import { fromHex, toHex } from "../../../src/protocol/bytes.ts"
import { nobleChaChaPoly, type ChaChaPoly } from "../../../src/protocol/crypto/aead.ts"
import {
  decryptBody,
  decryptHeader,
  decryptPacket,
  encryptMessage,
  encryptMessageParts,
  HEADER_LENGTH,
  makeCipherState,
  MAX_MESSAGE_LENGTH,
  type CipherState
} from "../../../src/protocol/noise/index.ts"

// noble (portable), node (fast: libsodium up to 2 KiB, OpenSSL above), and the node one's two
// engines on their own, so the short vector messages also run through OpenSSL.
const aeads: ReadonlyArray<ChaChaPoly> = [nobleChaChaPoly, nodeChaChaPoly, opensslChaChaPoly, sodiumChaChaPoly]
const m = vectors.message_encryption
const expected = new Map(m.outputs.map((o) => [o.index, o.ciphertext]))
const rotations = new Map(m.key_rotations.map((r) => [r.before_output_index, r]))


// libsodium loads lazily: load it so that its calls are libsodium's own, not the noble fallback.
beforeAll(async () => void expect(await loadSodium()).toBe(true))
describe.each(aeads.map((a) => [a.name, a] as const))("BOLT 8 message encryption vector with %s", (_name, aead) => {
  it(`encrypts all ${m.plaintext_repeat_count + 1} messages, decrypts each, and rotates keys as the spec lists`, () => {
    const plaintext = fromHex(m.plaintext)
    // Initiator sends with sk; the responder receives with the same key as its rk.
    let send: CipherState = makeCipherState(fromHex(m.sk), fromHex(m.ck))
    let receive: CipherState = makeCipherState(fromHex(m.sk), fromHex(m.ck))
    let checked = 0
    let rotated = 0
    for (let i = 0; i <= m.plaintext_repeat_count; i++) {
      const rotation = rotations.get(i)
      if (rotation !== undefined) {
        // The key used for message i is the rotated one.
        expect(toHex(send.key)).toBe(rotation.new_k)
        expect(toHex(send.chainingKey)).toBe(rotation.new_ck)
        expect(send.nonce).toBe(0)
        rotated++
      }
      const out = Result.getOrThrow(encryptMessage(aead, send, plaintext))
      send = out.state
      const want = expected.get(i)
      if (want !== undefined) {
        expect(toHex(out.packet)).toBe(want)
        checked++
      }
      const back = Result.getOrThrow(decryptPacket(aead, receive, out.packet))
      expect(toHex(back.message)).toBe(m.plaintext)
      receive = back.state
      expect(receive).toEqual(send)
    }
    expect(checked).toBe(6)
    expect(rotated).toBe(2)
  })

  it("matches the spec's per-box trace of the first two messages", () => {
    const first = Result.getOrThrow(encryptMessage(aead, makeCipherState(fromHex(m.sk), fromHex(m.ck)), fromHex(m.plaintext)))
    const second = Result.getOrThrow(encryptMessage(aead, first.state, fromHex(m.plaintext)))
    const boxes = [first.packet.subarray(0, 18), first.packet.subarray(18), second.packet.subarray(0, 18), second.packet.subarray(18)]
    expect(boxes.map(toHex)).toEqual(m.encrypt_trace.map((t) => t.ciphertext))
  })
})

const keyArb = fc.uint8Array({ minLength: 32, maxLength: 32 })
const stateArb = fc.record({ key: keyArb, chainingKey: keyArb, nonce: fc.integer({ min: 0, max: 999 }) })
// Short and long messages.
const messageArb = fc.oneof(fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.uint8Array({ minLength: 500, maxLength: 2500 }))

describe("transport properties", () => {
  it("round trip across implementations: either side may use either cipher", () => {
    fc.assert(
      fc.property(stateArb, fc.array(messageArb, { minLength: 1, maxLength: 6 }), fc.boolean(), (start, messages, flip) => {
        const sender = flip ? nobleChaChaPoly : nodeChaChaPoly
        const receiver = flip ? nodeChaChaPoly : nobleChaChaPoly
        let send: CipherState = start
        let receive: CipherState = start
        for (const message of messages) {
          const out = Result.getOrThrow(encryptMessage(sender, send, message))
          expect(out.packet.length).toBe(HEADER_LENGTH + message.length + 16)
          // Both implementations produce the same bytes.
          expect(toHex(Result.getOrThrow(encryptMessage(receiver, send, message)).packet)).toBe(toHex(out.packet))
          send = out.state
          const pending = Result.getOrThrow(decryptHeader(receiver, receive, out.packet.subarray(0, HEADER_LENGTH)))
          expect(pending.bodyLength).toBe(message.length + 16)
          const body = Result.getOrThrow(decryptBody(receiver, pending, out.packet.subarray(HEADER_LENGTH)))
          expect(toHex(body.message)).toBe(toHex(message))
          receive = body.state
        }
        expect(receive).toEqual(send)
      }),
      { numRuns: 2_000 }
    )
  })

  it("a message of 65535 bytes is sent, one of 65536 is refused without changing the state", () => {
    const state = makeCipherState(new Uint8Array(32).fill(7), new Uint8Array(32).fill(9))
    const big = new Uint8Array(MAX_MESSAGE_LENGTH).fill(0xab)
    for (const aead of aeads) {
      const out = Result.getOrThrow(encryptMessage(aead, state, big))
      const back = Result.getOrThrow(decryptPacket(aead, state, out.packet))
      expect(back.message).toEqual(big)
      const tooBig = encryptMessage(aead, state, new Uint8Array(MAX_MESSAGE_LENGTH + 1))
      expect(Result.isFailure(tooBig) && tooBig.failure).toMatchObject({ _tag: "NoiseMessageTooLong", length: 65536 })
    }
    expect(state.nonce).toBe(0)
  })

  it("any tampered bit in header or body is rejected with a typed error", () => {
    fc.assert(
      fc.property(stateArb, messageArb, fc.nat(), fc.integer({ min: 0, max: 7 }), fc.boolean(), (state, message, pos, bit, noble) => {
        const aead = noble ? nobleChaChaPoly : nodeChaChaPoly
        const { packet } = Result.getOrThrow(encryptMessage(aead, state, message))
        const i = pos % packet.length
        const tampered = Uint8Array.from(packet)
        tampered[i] = (tampered[i] ?? 0) ^ (1 << bit)
        const r = decryptPacket(aead, state, tampered)
        expect(Result.isFailure(r) && r.failure).toMatchObject({
          _tag: "NoiseFrameMacInvalid",
          part: i < HEADER_LENGTH ? "header" : "body"
        })
      }),
      { numRuns: 2_000 }
    )
  })

  it("decryptHeader and decryptBody on arbitrary bytes return typed errors and never throw", () => {
    const state = makeCipherState(new Uint8Array(32).fill(1), new Uint8Array(32).fill(2))
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 40 }), fc.uint8Array({ minLength: 0, maxLength: 80 }), (header, body) => {
        for (const aead of aeads) {
          const h = decryptHeader(aead, state, header)
          expect(Result.isFailure(h)).toBe(true)
          if (Result.isFailure(h)) expect(["NoiseFrameMacInvalid", "NoiseFrameLengthInvalid"]).toContain(h.failure._tag)
          const b = decryptBody(aead, { _tag: "PendingBody", bodyLength: body.length, cipher: state }, body)
          expect(Result.isFailure(b) && b.failure).toMatchObject({ _tag: "NoiseFrameMacInvalid", part: "body" })
          const p = decryptPacket(aead, state, Uint8Array.of(...header, ...body))
          expect(Result.isFailure(p) && p.failure._tag).toMatch(/^NoiseFrame(MacInvalid|LengthInvalid)$/)
        }
      }),
      { numRuns: 10_000 }
    )
  })

  it("a body of the wrong length is a typed error", () => {
    const state = makeCipherState(new Uint8Array(32).fill(1), new Uint8Array(32).fill(2))
    const { packet } = Result.getOrThrow(encryptMessage(nodeChaChaPoly, state, new Uint8Array(10)))
    const pending = Result.getOrThrow(decryptHeader(nodeChaChaPoly, state, packet.subarray(0, HEADER_LENGTH)))
    const short = decryptBody(nodeChaChaPoly, pending, packet.subarray(HEADER_LENGTH, packet.length - 1))
    expect(Result.isFailure(short) && short.failure).toMatchObject({ _tag: "NoiseFrameLengthInvalid", part: "body", expected: 26, received: 25 })
  })
})

describe("zero-copy sending", () => {
  it("encryptMessageParts yields exactly the packet of encryptMessage, in three chunks", () => {
    fc.assert(
      fc.property(stateArb, fc.oneof(messageArb, fc.uint8Array({ minLength: 600, maxLength: 5000 })), fc.constantFrom(...aeads), (state, message, aead) => {
        const whole = Result.getOrThrow(encryptMessage(aead, state, message))
        const parts = Result.getOrThrow(encryptMessageParts(aead, state, message))
        expect(parts.parts.map((p) => p.length)).toEqual([HEADER_LENGTH, message.length, 16])
        expect(toHex(Uint8Array.of(...parts.parts.flatMap((p) => [...p])))).toBe(toHex(whole.packet))
        expect(parts.state).toEqual(whole.state)
      }),
      { numRuns: 500 }
    )
  })

  it("refuses a message over 65535 bytes", () => {
    const r = encryptMessageParts(nodeChaChaPoly, makeCipherState(new Uint8Array(32), new Uint8Array(32)), new Uint8Array(MAX_MESSAGE_LENGTH + 1))
    expect(Result.isFailure(r) && r.failure._tag).toBe("NoiseMessageTooLong")
  })
})
