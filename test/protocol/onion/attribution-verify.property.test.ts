/**
 * `verifyAttribution` (the origin's check, src/protocol/onion/attribution.ts) against BOLT 4's
 * definition written out here: each hop's layer removed with its `ammagext` stream, the data
 * moved back one node (hold times left by one slot, every HMAC block one node up) byte by byte,
 * and hmac_0_y recomputed with noble's HMAC over the return packet, the first y + 1 hold times
 * and the downstream HMACs. Chains of 1 to 20 hops built by `addAttribution`, intact or with one
 * byte changed, for successes and failures, with the erring hop known or not.
 */
import { hmac } from "@noble/hashes/hmac.js"
import { sha256 } from "@noble/hashes/sha2.js"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { concatBytes } from "../../../src/protocol/bytes.ts"
import { addAttribution, ATTRIBUTION_DATA_SIZE, deriveKey, generateStream, verifyAttribution } from "../../../src/protocol/onion/index.ts"

const HOPS = 20
const HOLD = HOPS * 4
const offset = (x: number, y: number) => HOLD + (HOPS * x - (x * (x - 1)) / 2 + (HOPS - 1 - x - y)) * 4

/** BOLT 4's inverse shift: hold times left by one slot, HMAC block x + 1 becomes block x (pruned entries zero). */
const unshifted = (data: Uint8Array): Uint8Array => {
  const out = new Uint8Array(ATTRIBUTION_DATA_SIZE)
  out.set(data.subarray(4, HOLD), 0)
  for (let x = 0; x < HOPS - 1; x++) {
    for (let y = 0; y <= HOPS - 2 - x; y++) out.set(data.subarray(offset(x + 1, y), offset(x + 1, y) + 4), offset(x, y))
  }
  return out
}

const reference = (secrets: ReadonlyArray<Uint8Array>, attribution: Uint8Array, messages: (hop: number) => Uint8Array, lastHop: number) => {
  const holdTimes: Array<number> = []
  const last = Math.min(lastHop, HOPS - 1, secrets.length - 1)
  let data: Uint8Array = attribution.slice()
  for (let i = 0; i <= last; i++) {
    const secret = secrets[i]!
    if (i > 0) data = unshifted(data)
    const stream = generateStream(deriveKey("ammagext", secret), ATTRIBUTION_DATA_SIZE)
    data = data.map((b, k) => b ^ (stream[k] ?? 0))
    const y = last - i
    const parts = [messages(i), data.subarray(0, (y + 1) * 4)]
    for (let j = 1; j <= y; j++) parts.push(data.subarray(offset(j, y - j), offset(j, y - j) + 4))
    const expected = hmac(sha256, deriveKey("um", secret), concatBytes(...parts)).subarray(0, 4)
    if (!expected.every((b, k) => b === data[offset(0, y) + k])) return { holdTimes, firstInvalidHop: i }
    holdTimes.push(new DataView(data.buffer, data.byteOffset).getUint32(0))
  }
  return { holdTimes, firstInvalidHop: undefined }
}

const chainArb = fc.integer({ min: 1, max: 22 }).chain((hops) =>
  fc.record({
    secrets: fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { minLength: hops, maxLength: hops }),
    holdTimes: fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: hops, maxLength: hops }),
    // A success (no return packet) or a failure's packet as each hop saw it (one per hop).
    messages: fc.oneof(
      fc.constant(undefined),
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: hops, maxLength: hops })
    ),
    erring: fc.option(fc.integer({ min: 0, max: hops + 2 }), { nil: undefined }),
    tamper: fc.option(fc.tuple(fc.integer({ min: 0, max: ATTRIBUTION_DATA_SIZE - 1 }), fc.integer({ min: 1, max: 255 })), { nil: undefined })
  })
)

describe("verifyAttribution against BOLT 4's definition", () => {
  it("gives the same hold times and blamed hop over intact and changed chains", () => {
    let valid = 0
    fc.assert(
      fc.property(chainArb, (c) => {
        const hops = c.secrets.length
        const message = (hop: number) => c.messages?.[hop] ?? new Uint8Array(0)
        // The last node starts the data, every node before it adds its own (BOLT 4).
        let data: Uint8Array | undefined
        for (let i = hops - 1; i >= 0; i--) data = addAttribution(c.secrets[i]!, c.holdTimes[i]!, message(i), data)
        const sent = data!.slice()
        if (c.tamper !== undefined) sent[c.tamper[0]] = (sent[c.tamper[0]] ?? 0) ^ c.tamper[1]
        const lastHop = c.erring ?? hops - 1
        const got = verifyAttribution(c.secrets, sent, message, lastHop)
        expect(got).toEqual(reference(c.secrets, sent, message, lastHop))
        if (got.firstInvalidHop === undefined && got.holdTimes.length > 1) valid += 1
      }),
      { numRuns: 150 }
    )
    expect(valid).toBeGreaterThan(10)
  })
})
