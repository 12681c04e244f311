/**
 * Tests written for `state-json.ts` (`npm run mutate -- src/protocol/channel/state-json.ts`), the
 * hand-written JSON of a channel record: each signer request kind and each update message kind
 * is the Schema's JSON, key for key (the record is decoded by the Schema at restart); the parts
 * memoized by object are the same frozen value on every call, frozen all the way down (records
 * share them); `toJsonValue` drops the keys holding `undefined`, as JSON text does.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { UpdateMessageSchema, type UpdateMessage } from "../../../src/protocol/channel/commitments.ts"
import { SignerRequestSchema, type SignerRequest } from "../../../src/protocol/channel/io.ts"
import {
  encodeChannelParamsJson,
  encodeChannelStateJson,
  encodeCommitmentsJson,
  encodeSignerRequestJson,
  encodeUpdateMessageJson,
  toJsonValue
} from "../../../src/protocol/channel/state-json.ts"
import { ChannelParamsSchema } from "../../../src/protocol/channel/params.ts"
import type { Normal } from "../../../src/protocol/channel/state.ts"
import { UpdateAddHtlc, UpdateFailHtlc, UpdateFailMalformedHtlc, UpdateFee, UpdateFulfillHtlc } from "../../../src/protocol/messages/channel.ts"
import { msat } from "../../../src/protocol/units.ts"
import { newPair, preimageFor } from "./step-harness.ts"

/** Alice after one HTLC each way signed, one more of hers proposed. */
const alice = ((): Normal => {
  const p = newPair("json-mut-a", "json-mut-b")
  p.open()
  p.add(p.a, 2_000_000n, "j0")
  p.add(p.b, 3_000_000n, "j1")
  p.settle()
  p.add(p.a, 4_000_000n, "j2")
  const s = p.a.state
  if (s?._tag !== "Normal") throw new Error("not Normal")
  return s
})()
const params = alice.commitments.params
const channelId = params.channelId
const commitment = { commitmentNumber: 3n, feeratePerKw: 2500, toLocal: msat(5n), toRemote: msat(6n), htlcs: [{ direction: "offered" as const, amount: msat(7n), paymentHash: new Uint8Array(32).fill(8), cltvExpiry: 9 }] }
const point = alice.commitments.localNextPerCommitmentPoint
const sig = (n: number) => new Uint8Array(64).fill(n)

const schemaRequest = Schema.encodeSync(SignerRequestSchema)
const schemaUpdate = Schema.encodeSync(UpdateMessageSchema)

const isFrozenDeep = (j: unknown): boolean => {
  if (typeof j !== "object" || j === null) return true
  if (!Object.isFrozen(j)) return false
  return Object.values(j).every(isFrozenDeep)
}

describe("signer requests: the Schema's JSON, memoized and frozen", () => {
  const requests: ReadonlyArray<SignerRequest> = [
    { _tag: "SignCounterpartyCommitment", commitment, theirPerCommitmentPoint: point },
    { _tag: "SignCounterpartyCommitment", commitment, theirPerCommitmentPoint: point, channel: params },
    { _tag: "ValidateAndRevoke", holderCommitment: commitment, signature: sig(1), htlcSignatures: [sig(2), sig(3)], nextCommitmentNumber: 4n },
    { _tag: "ValidateAndRevoke", holderCommitment: commitment, signature: sig(1), htlcSignatures: [], revokeCommitmentNumber: 2n, nextCommitmentNumber: 4n },
    { _tag: "ReleaseRevoked", revokeCommitmentNumber: 5n, nextCommitmentNumber: 7n },
    { _tag: "PerCommitmentPoint", commitmentNumber: 11n },
    { _tag: "SignClosing", tx: Uint8Array.of(1, 2, 3) }
  ]
  it.each(requests.map((r, i) => [`${i}: ${r._tag}`, r] as const))("%s", (_name, r) => {
    const j = encodeSignerRequestJson(r)
    // Key for key, in the Schema's order (the record's text is compared byte for byte).
    expect(JSON.stringify(j)).toBe(JSON.stringify(toJsonValue(schemaRequest(r))))
    expect(encodeSignerRequestJson(r)).toBe(j)
    expect(isFrozenDeep(j)).toBe(true)
  })
})

describe("update messages: the Schema's JSON, memoized and frozen", () => {
  const preimage = preimageFor("j-upd")
  const updates: ReadonlyArray<UpdateMessage> = [
    UpdateAddHtlc.make({ channelId, id: 3n, amountMsat: msat(1000n), paymentHash: sha256(preimage), cltvExpiry: 500, onionRoutingPacket: new Uint8Array(1366).fill(4) }),
    UpdateAddHtlc.make(
      { channelId, id: 4n, amountMsat: msat(1000n), paymentHash: sha256(preimage), cltvExpiry: 500, onionRoutingPacket: new Uint8Array(1366).fill(4) },
      { blindedPath: point }
    ),
    UpdateFulfillHtlc.make({ channelId, id: 5n, paymentPreimage: preimage }),
    UpdateFailHtlc.make({ channelId, id: 6n, reason: Uint8Array.of(9, 9) }),
    UpdateFailMalformedHtlc.make({ channelId, id: 7n, sha256OfOnion: new Uint8Array(32).fill(3), failureCode: 0x8000 | 0x4000 | 5 }),
    UpdateFee.make({ channelId, feeratePerKw: 3000 })
  ]
  it.each(updates.map((m, i) => [`${i}: ${m._tag}`, m] as const))("%s", (_name, m) => {
    const j = encodeUpdateMessageJson(m)
    expect(JSON.stringify(j)).toBe(JSON.stringify(toJsonValue(schemaUpdate(m))))
    expect(encodeUpdateMessageJson(m)).toBe(j)
    expect(isFrozenDeep(j)).toBe(true)
  })
})

describe("the params and commitments", () => {
  it("the params' encoding is one value, frozen all the way down (its parties and basepoints too)", () => {
    const j = encodeChannelParamsJson(params)
    expect(encodeChannelParamsJson(params)).toBe(j)
    expect(isFrozenDeep(j)).toBe(true)
    expect(isFrozenDeep(j["local"]) && typeof j["local"] === "object").toBe(true)
  })

  it("upfront shutdown scripts, when the parties committed to them, encode as the Schema does", () => {
    const withScripts = {
      ...params,
      local: { ...params.local, upfrontShutdownScript: Uint8Array.of(0, 20, ...new Uint8Array(20).fill(1)) },
      remote: { ...params.remote, upfrontShutdownScript: new Uint8Array(0) }
    }
    const j = encodeChannelParamsJson(withScripts)
    expect(JSON.stringify(j)).toBe(JSON.stringify(toJsonValue(Schema.encodeSync(ChannelParamsSchema)(withScripts))))
    expect(JSON.stringify(j)).toContain(`"upfrontShutdownScript":"0014${"01".repeat(20)}"`)
  })

  it("the commitments' parts (both commitments, the update lists) are the memoized frozen values", () => {
    const c = alice.commitments
    expect(c.localCommit.spec.htlcs.length).toBeGreaterThan(0)
    const a = encodeCommitmentsJson(c)
    const b = encodeCommitmentsJson(c)
    expect(b["localCommit"]).toBe(a["localCommit"])
    expect(b["remoteCommit"]).toBe(a["remoteCommit"])
    expect(b["remoteNextCommitInfo"]).toBe(a["remoteNextCommitInfo"])
    expect(isFrozenDeep(a["localCommit"])).toBe(true)
    expect(isFrozenDeep(a["remoteNextCommitInfo"])).toBe(true)
    const proposed = c.localChanges.proposed[0]
    if (proposed === undefined) throw new Error("no proposed update")
    expect(encodeUpdateMessageJson(proposed)).toBe(encodeUpdateMessageJson(proposed))
  })
})

describe("the state: no key holds undefined (what JSON text cannot keep)", () => {
  const undefinedKeys = (j: unknown, path = "$"): Array<string> => {
    if (typeof j !== "object" || j === null) return []
    return Object.entries(j).flatMap(([k, v]) => (v === undefined ? [`${path}.${k}`] : undefinedKeys(v, `${path}.${k}`)))
  }
  it("a Normal state with HTLCs received, optional fields unset", () => {
    expect(alice.receivedHtlcs?.length ?? 0).toBeGreaterThan(0)
    expect(alice.receivedHtlcs?.[0]?.dustExposureExceeded).toBeUndefined()
    expect(alice.closingFeeratePerKw).toBeUndefined()
    const j = encodeChannelStateJson(alice)
    expect(undefinedKeys(j)).toEqual([])
    expect(Object.keys(j as object)).not.toContain("closingFeeratePerKw")
  })
})

describe("toJsonValue (a Schema encoding as a JSON value)", () => {
  it("keys holding undefined are left out; null, booleans, numbers, strings and arrays kept", () => {
    expect(toJsonValue({ a: 1, b: undefined, c: [true, null, "x", { d: undefined, e: 0 }] })).toEqual({ a: 1, c: [true, null, "x", { e: 0 }] })
    expect(Object.keys(toJsonValue({ b: undefined, a: "y" }) as object)).toEqual(["a"])
    expect(toJsonValue(null)).toBe(null)
    expect(toJsonValue(false)).toBe(false)
    expect(toJsonValue("s")).toBe("s")
    expect(toJsonValue(2.5)).toBe(2.5)
  })
  it("what is not JSON is refused", () => {
    expect(() => toJsonValue(1n)).toThrow("not a JSON value: bigint")
    expect(() => toJsonValue(undefined)).toThrow("not a JSON value: undefined")
  })
})
