/**
 * A channel's record as the persister stores it (`encodeChannelRecord`: the hand-written encoders,
 * the ids' hex converted once per array) is the Schema's encoding, byte for byte as JSON text (the
 * same keys in the same order), with and without the signer's state, and asked twice.
 */
import { Effect, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { type ChannelRecord, ChannelRecordJson, ChannelRecordSchema, encodeChannelRecord } from "../../src/actors/ChannelManager.ts"
import { channelKeyId } from "../../src/services/ChannelSigner.ts"
import { nodeIdFromHex } from "../../src/api/convert.ts"
import { newPair, preimageFor } from "../protocol/channel/step-harness.ts"
import { msat } from "../../src/protocol/units.ts"
import { sha256 } from "@noble/hashes/sha2.js"

describe("encodeChannelRecord", () => {
  it("writes the Schema's JSON text, signer state or not", () => {
    const p = newPair()
    p.open()
    p.input(p.a, { _tag: "AddHtlc", requestId: "r", amount: msat(5_000_000n), paymentHash: sha256(preimageFor("x")), cltvExpiry: 800_000, onion: new Uint8Array(1366) })
    p.signNow(p.a)
    p.settle()
    const state = p.a.state
    if (state === undefined) throw new Error("no state")
    const nodeId = nodeIdFromHex("02" + "11".repeat(32))
    const keyId = channelKeyId(new Uint8Array(32).fill(3))
    if (keyId === undefined) throw new Error("unreachable")
    const signer = Effect.runSync(p.a.signer.channelState(p.a.keyId))
    const records: ReadonlyArray<ChannelRecord> = [
      { version: 1, nodeId, keyId, channel: state },
      { version: 1, nodeId, keyId, channel: state, signer }
    ]
    for (const r of records) {
      const expected = JSON.stringify(Schema.encodeSync(ChannelRecordSchema)(r))
      expect(JSON.stringify(encodeChannelRecord(r))).toBe(expected)
      // The ids' hex comes from the memo the second time: the same text.
      expect(JSON.stringify(encodeChannelRecord(r))).toBe(expected)
    }
    // As the persister takes it (`ChannelRecordJson`, a `LazyJson`): the same text, encoded once
    // (instrumented as one "record encode"), the same value when asked again.
    for (const r of records) {
      const expected = JSON.stringify(Schema.encodeSync(ChannelRecordSchema)(r))
      const parts: Array<string> = []
      const instrument = <A>(part: "step" | "record encode", f: () => A): A => {
        parts.push(part)
        return f()
      }
      for (const lazy of [new ChannelRecordJson(r.nodeId, keyId, r.channel, r.signer, undefined), new ChannelRecordJson(r.nodeId, keyId, r.channel, r.signer, instrument)]) {
        const value = lazy.value
        expect(JSON.stringify(value)).toBe(expected)
        expect(lazy.value).toBe(value)
      }
      expect(parts).toEqual(["record encode"])
    }
  })
})
