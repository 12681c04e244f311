import fc from "fast-check"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import errorVector from "../../vectors/bolt04/onion-error-test.json" with { type: "json" }
import attr from "../../vectors/bolt04-attributable-errors.json" with { type: "json" }
import { fromHex, toHex } from "../../../src/protocol/bytes.ts"
import {
  addSuccessAttribution,
  ATTRIBUTION_DATA_SIZE,
  buildRawFailurePacket,
  createFailure,
  decryptFailure,
  deriveKey,
  deriveSessionKeys,
  encodeFailureMessage,
  type FailureMessage,
  forwardFailure,
  generateStream,
  type ReturnedFailure,
  verifySuccessAttribution,
  wrapFailurePacket
} from "../../../src/protocol/onion/index.ts"
import { msat } from "../../../src/protocol/units.ts"
import { nodeAt, secp, sessionKeyOf } from "./fixtures.ts"

const secretsOf = (sessionKey: string, pubkeys: ReadonlyArray<string>): ReadonlyArray<Uint8Array> => {
  const keys = deriveSessionKeys(secp, fromHex(sessionKey), pubkeys.map(fromHex))
  if (Result.isFailure(keys)) throw new Error(keys.failure._tag)
  return keys.success.sharedSecrets
}

describe("returning errors (onion-error-test.json)", () => {
  const hops = errorVector.generate.hops
  const ss = secretsOf(errorVector.generate.session_key, hops.map((h) => h.pubkey))
  const message = fromHex(errorVector.generate.failure_message)

  it("derives the ammag and um keys of the vector", () => {
    hops.forEach((h, i) => expect(toHex(deriveKey("ammag", ss[i] ?? new Uint8Array()))).toBe(h.ammag_key))
    expect(toHex(deriveKey("um", ss[4] ?? new Uint8Array()))).toBe(hops[4]?.um_key)
  })

  it("the erring node pads the message to 256 bytes and authenticates it", () => {
    const raw = buildRawFailurePacket(ss[4] ?? new Uint8Array(), message)
    expect(toHex(raw.subarray(32))).toBe(hops[4]?.payload)
    expect(raw.length).toBe(32 + 2 + 256 + 2)
  })

  it("each hop back wraps it into the vector's error packet, and the origin attributes it to hop 4", () => {
    let f: ReturnedFailure = createFailure(ss[4] ?? new Uint8Array(), message)
    for (let i = 3; i >= 0; i--) f = forwardFailure(ss[i] ?? new Uint8Array(), f)
    expect(toHex(f.reason)).toBe(errorVector.errorpacket)
    const d = decryptFailure(ss, f.reason)
    if (Result.isFailure(d)) throw new Error(d.failure._tag)
    expect(d.success.hopIndex).toBe(4)
    expect(d.success.authenticated).toBe(true)
    expect(d.success.failure !== undefined && Result.isSuccess(d.success.failure) && d.success.failure.success._tag).toBe(
      "temporary_node_failure"
    )
    expect(d.success.attribution).toBeUndefined()
  })
})

describe("attributable failures (bolt04-attributable-errors.json)", () => {
  const ss = secretsOf(attr.params.session_key, attr.params.hops.map((h) => h.pubkey))
  // The encoded message in the vector is failuremsg || pad_len || pad; failure_len is 320.
  const encoded = fromHex(attr.creation.encoded_failure_message)
  const failureLength = ((fromHex(attr.creation.payload)[0] ?? 0) << 8) | (fromHex(attr.creation.payload)[1] ?? 0)
  const message = encoded.slice(0, failureLength)
  const paddedLength = encoded.length - 2
  // The spec's trace gives hold time htlc_hold_time[k] to the k-th node handling the failure
  // (the erring node 4 reports 1, node 0 reports 5), as the decrypted attribution data shows.
  const holdTimeOf = (node: number) => attr.params.hops[attr.params.nhops - 1 - node]?.htlc_hold_time ?? 0

  it("encodes the vector's failure message (incorrect_or_unknown_payment_details with a TLV)", () => {
    const f: FailureMessage = {
      _tag: "incorrect_or_unknown_payment_details",
      htlcMsat: msat(BigInt(attr.params.failure_message.htlc_msat)),
      height: attr.params.failure_message.height,
      tlvs: fromHex(`fd84d1fd012c${attr.params.failure_message.tlv_value}`)
    }
    expect(toHex(encodeFailureMessage(f))).toBe(toHex(message))
  })

  it("builds the raw packet, keys and stream of the erring node", () => {
    const secret = ss[attr.params.failure_source_node] ?? new Uint8Array()
    expect(toHex(secret)).toBe(attr.creation.shared_secret)
    expect(toHex(deriveKey("um", secret))).toBe(attr.creation.um_key)
    const raw = buildRawFailurePacket(secret, message, { paddedLength })
    expect(toHex(raw)).toBe(attr.creation.raw_error_packet)
    expect(toHex(raw.subarray(32))).toBe(attr.creation.payload)
  })

  it("matches every hop's error packet and attribution data on the way back", () => {
    let f: ReturnedFailure | undefined
    for (const step of attr.forwarding) {
      const secret = ss[step.node] ?? new Uint8Array()
      expect(toHex(secret)).toBe(step.shared_secret)
      expect(toHex(deriveKey("ammag", secret))).toBe(step.ammag_key)
      expect(toHex(generateStream(deriveKey("ammag", secret), step.stream.length / 2))).toBe(step.stream)
      f = f === undefined
        ? createFailure(secret, message, holdTimeOf(step.node), { paddedLength })
        : forwardFailure(secret, f, holdTimeOf(step.node))
      expect(toHex(f.reason)).toBe(step.error_packet)
      expect(toHex(f.attributionData ?? new Uint8Array())).toBe(step.attribution_data)
    }
    if (f === undefined) throw new Error("no forwarding steps")
    const d = decryptFailure(ss, f.reason, f.attributionData)
    if (Result.isFailure(d)) throw new Error(d.failure._tag)
    expect(d.success.hopIndex).toBe(attr.params.failure_source_node)
    expect(d.success.attribution?.firstInvalidHop).toBeUndefined()
    expect(d.success.attribution?.holdTimes).toEqual([0, 1, 2, 3, 4].map(holdTimeOf))
    const failure = d.success.failure
    expect(failure !== undefined && Result.isSuccess(failure) && failure.success._tag).toBe("incorrect_or_unknown_payment_details")
  })

  it("matches the attribution data of every hop on success, and the origin reads the hold times", () => {
    let data: Uint8Array | undefined
    for (const step of attr.success) {
      data = addSuccessAttribution(ss[step.node] ?? new Uint8Array(), holdTimeOf(step.node), data)
      expect(toHex(data)).toBe(step.attribution_data)
    }
    if (data === undefined) throw new Error("no success steps")
    expect(data.length).toBe(ATTRIBUTION_DATA_SIZE)
    const check = verifySuccessAttribution(ss, data)
    expect(check).toEqual({ holdTimes: [0, 1, 2, 3, 4].map(holdTimeOf), firstInvalidHop: undefined })
  })
})

const routeSecrets = (hops: number, seed: number): ReadonlyArray<Uint8Array> => {
  const keys = deriveSessionKeys(secp, sessionKeyOf(seed), Array.from({ length: hops }, (_, i) => nodeAt(i).publicKey))
  if (Result.isFailure(keys)) throw new Error(keys.failure._tag)
  return keys.success.sharedSecrets
}

describe("failure round trip properties", () => {
  const failures = fc.constantFrom<FailureMessage>(
    { _tag: "temporary_channel_failure", channelUpdate: new Uint8Array(0) },
    { _tag: "incorrect_or_unknown_payment_details", htlcMsat: msat(1000n), height: 800_000 },
    { _tag: "fee_insufficient", htlcMsat: msat(5n), channelUpdate: new Uint8Array(300).fill(7) },
    { _tag: "unknown_next_peer" }
  )

  it("a failure from a random hop of a random route is attributed to that hop, with hold times", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }).chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 0, max: n - 1 }))),
        failures,
        fc.integer(),
        fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 20, maxLength: 20 }),
        ([n, erring], failure, seed, holds) => {
          const ss = routeSecrets(n, seed)
          let f = createFailure(ss[erring] ?? new Uint8Array(), failure, holds[erring])
          for (let i = erring - 1; i >= 0; i--) f = forwardFailure(ss[i] ?? new Uint8Array(), f, holds[i])
          const d = decryptFailure(ss, f.reason, f.attributionData)
          if (Result.isFailure(d)) return false
          const decoded = d.success.failure
          return d.success.hopIndex === erring && d.success.authenticated &&
            decoded !== undefined && Result.isSuccess(decoded) && decoded.success._tag === failure._tag &&
            JSON.stringify(d.success.attribution?.holdTimes) === JSON.stringify(holds.slice(0, erring + 1)) &&
            d.success.attribution?.firstInvalidHop === undefined
        }
      ),
      { numRuns: 100 }
    )
  })

  it("a hop that corrupts the packet is blamed through the attribution data", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 3, max: 20 }).chain((n) =>
          fc.tuple(fc.constant(n), fc.integer({ min: 1, max: n - 1 })).chain(([n2, erring]) =>
            fc.tuple(fc.constant(n2), fc.constant(erring), fc.integer({ min: 0, max: erring - 1 }))
          )
        ),
        fc.integer(),
        ([n, erring, corrupter], seed) => {
          const ss = routeSecrets(n, seed)
          let f = createFailure(ss[erring] ?? new Uint8Array(), { _tag: "temporary_node_failure" }, 1)
          for (let i = erring - 1; i >= 0; i--) {
            if (i === corrupter) {
              // The corrupting hop alters what it received, then adds its layer honestly.
              const bad = f.reason.slice()
              bad[40] = (bad[40] ?? 0) ^ 0xff
              f = { reason: bad, attributionData: f.attributionData }
            }
            f = forwardFailure(ss[i] ?? new Uint8Array(), f, 1)
          }
          const d = decryptFailure(ss, f.reason, f.attributionData)
          // The HMAC of hop `corrupter + 1` covers what it sent, which the corrupter changed.
          return Result.isSuccess(d) && !d.success.authenticated && d.success.hopIndex === corrupter + 1
        }
      ),
      { numRuns: 60 }
    )
  })

  it("garbage reasons and attribution data give typed results and are never authenticated", () => {
    const ss = routeSecrets(5, 9)
    const data = fc.oneof(
      fc.constant(undefined),
      fc.uint8Array({ minLength: 0, maxLength: 1000 }),
      fc.uint8Array({ minLength: ATTRIBUTION_DATA_SIZE, maxLength: ATTRIBUTION_DATA_SIZE })
    )
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), data, (reason, attribution) => {
        const d = decryptFailure(ss, reason, attribution)
        // Without attribution data nobody can be blamed; with it, some hop is (random HMACs fail).
        if (attribution === undefined) return Result.isFailure(d) && d.failure._tag === "UnattributableFailure"
        if (Result.isFailure(d) || d.success.authenticated || d.success.failure !== undefined) return false
        return attribution.length === ATTRIBUTION_DATA_SIZE
          ? d.success.hopIndex >= 0 && d.success.hopIndex < ss.length
          : d.success.hopIndex === 0
      }),
      { numRuns: 1000 }
    )
  })

  it("frames what u16 lengths can carry and refuses a message they cannot", () => {
    const ss = routeSecrets(1, 2)[0] ?? new Uint8Array()
    const padded = buildRawFailurePacket(ss, new Uint8Array(10), { paddedLength: 100_000 })
    // pad_len stops at 65535.
    expect(padded.length).toBe(32 + 2 + 10 + 2 + 0xffff)
    expect([padded[32 + 2 + 10], padded[32 + 2 + 10 + 1]]).toEqual([0xff, 0xff])
    expect(() => buildRawFailurePacket(ss, new Uint8Array(0x10000))).toThrow(RangeError)
  })

  it("wrapping is its own inverse", () => {
    const ss = routeSecrets(1, 1)[0] ?? new Uint8Array()
    const packet = new Uint8Array(292).fill(3)
    expect(wrapFailurePacket(ss, wrapFailurePacket(ss, packet))).toEqual(packet)
  })
})
