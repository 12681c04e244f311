/**
 * Attribution data (src/protocol/onion/attribution.ts) against BOLT 4's definition written out
 * here with noble's HMAC: each hmac_0_y over the return packet, the first y + 1 hold times and the
 * downstream HMACs hmac_j_{y-j}, one HMAC at a time. Covers the fast paths: the packet absorbed
 * once for all 20 HMACs, and fresh data's HMACs from one running hash.
 */
import { hmac } from "@noble/hashes/hmac.js"
import { sha256 } from "@noble/hashes/sha2.js"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { concatBytes, toHex } from "../../../src/protocol/bytes.ts"
import { addAttribution, ATTRIBUTION_DATA_SIZE, deriveKey, generateStream } from "../../../src/protocol/onion/index.ts"

const HOPS = 20
const HOLD = HOPS * 4
const offset = (x: number, y: number) => HOLD + (HOPS * x - (x * (x - 1)) / 2 + (HOPS - 1 - x - y)) * 4

/** BOLT 4: shift the hold times right, move every HMAC block one node down (pruning the last). */
const shifted = (down: Uint8Array): Uint8Array => {
  const out = new Uint8Array(ATTRIBUTION_DATA_SIZE)
  out.set(down.subarray(0, HOLD - 4), 4)
  for (let x = 0; x < HOPS - 1; x++) {
    for (let y = 0; y <= HOPS - 2 - x; y++) out.set(down.subarray(offset(x, y), offset(x, y) + 4), offset(x + 1, y))
  }
  return out
}

const reference = (secret: Uint8Array, holdTime: number, message: Uint8Array, downstream: Uint8Array | undefined): Uint8Array => {
  const data = downstream === undefined ? new Uint8Array(ATTRIBUTION_DATA_SIZE) : shifted(downstream)
  new DataView(data.buffer).setUint32(0, holdTime)
  const um = deriveKey("um", secret)
  for (let y = 0; y < HOPS; y++) {
    const parts = [message, data.subarray(0, (y + 1) * 4)]
    for (let j = 1; j <= y; j++) parts.push(data.subarray(offset(j, y - j), offset(j, y - j) + 4))
    data.set(hmac(sha256, um, concatBytes(...parts)).subarray(0, 4), offset(0, y))
  }
  const stream = generateStream(deriveKey("ammagext", secret), ATTRIBUTION_DATA_SIZE)
  return data.map((b, i) => b ^ (stream[i] ?? 0))
}

const secret = fc.uint8Array({ minLength: 32, maxLength: 32 })
const holdTime = fc.integer({ min: 0, max: 0xffffffff })
const message = fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ minLength: 1, maxLength: 400 }))

describe("attribution data against BOLT 4's definition", () => {
  it("fresh data (final node, erring node): the same bytes, with or without a return packet", () => {
    fc.assert(
      fc.property(secret, holdTime, message, (s, t, m) => {
        expect(toHex(addAttribution(s, t, m, undefined))).toBe(toHex(reference(s, t, m, undefined)))
      }),
      { numRuns: 200 }
    )
  })

  it("downstream data (forwarding node): the same bytes, the return packet absorbed once", () => {
    fc.assert(
      fc.property(secret, holdTime, message, fc.uint8Array({ minLength: ATTRIBUTION_DATA_SIZE, maxLength: ATTRIBUTION_DATA_SIZE }), (s, t, m, down) => {
        expect(toHex(addAttribution(s, t, m, down))).toBe(toHex(reference(s, t, m, down)))
      }),
      { numRuns: 100 }
    )
  })
})
