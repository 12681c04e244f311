import fc from "fast-check"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import vector from "../../vectors/bolt04/blinded-onion-message-onion-test.json" with { type: "json" }
import { fromHex, toHex } from "../../../src/protocol/bytes.ts"
import {
  buildOnionMessage,
  createBlindedPath,
  decodeOnionMessage,
  decodeOnionMessagePayload,
  ecdhWithSecret,
  encodeOnionMessage,
  encodeOnionMessagePayload,
  processOnionMessage
} from "../../../src/protocol/onion/index.ts"
import { IMPLEMENTATIONS, nodeAt, secp, sessionKeyOf } from "./fixtures.ts"

const gen = vector.generate.hops
/** `onion_message` hex in the vector starts with its type, 513. */
const withoutType = (hex: string) => fromHex(hex).slice(2)

describe("onion messages (blinded-onion-message-onion-test.json)", () => {
  // Node ids are the next_node_id of the previous hop (Alice's own is route.first_node_id).
  const nodeIds = [vector.route.first_node_id, ...vector.decrypt.hops.slice(0, 3).map((h) => h.next_node_id ?? "")]

  const build = (impl = secp) => {
    // The sender's own hop to Alice (overriding the path key with Dave's), then Dave's Bob -> Dave path.
    const sender = createBlindedPath(impl, fromHex(gen[0]?.path_key_secret ?? ""), [{ nodeId: fromHex(nodeIds[0] ?? ""), data: fromHex(gen[0]?.encrypted_data_tlv ?? "") }])
    const dave = createBlindedPath(impl, fromHex(gen[1]?.path_key_secret ?? ""), [1, 2, 3].map((i) => ({ nodeId: fromHex(nodeIds[i] ?? ""), data: fromHex(gen[i]?.encrypted_data_tlv ?? "") })))
    if (Result.isFailure(sender) || Result.isFailure(dave)) throw new Error("path")
    return { sender: sender.success, hops: [...sender.success.hops, ...dave.success.hops], pathKeys: [...sender.success.pathKeys, ...dave.success.pathKeys] }
  }

  it("builds the blinded route of the vector, joined with next_path_key_override", () => {
    const { sender, hops, pathKeys } = build()
    expect(toHex(sender.firstPathKey)).toBe(vector.route.first_path_key)
    hops.forEach((h, i) => {
      expect(toHex(h.blindedNodeId)).toBe(vector.route.hops[i]?.blinded_node_id)
      expect(toHex(h.encryptedRecipientData)).toBe(vector.route.hops[i]?.encrypted_recipient_data)
      expect(toHex(pathKeys[i] ?? new Uint8Array())).toBe(gen[i]?.E)
    })
  })

  it.each(IMPLEMENTATIONS.map((impl) => [impl.name, impl] as const))("builds the exact onion_message_packet that says hello to Dave (%s)", (_, impl) => {
    const { hops } = build(impl)
    const m = buildOnionMessage(
      impl,
      fromHex(vector.generate.session_key),
      hops.map((h, i) => ({
        publicKey: h.blindedNodeId,
        payload: {
          encryptedRecipientData: h.encryptedRecipientData,
          ...(i === hops.length - 1 ? { unknown: [{ type: 1n, value: fromHex(vector.onionmessage.unknown_tag_1) }] } : {})
        }
      }))
    )
    if (Result.isFailure(m)) throw new Error(m.failure._tag)
    expect(toHex(m.success.packetBytes)).toBe(vector.onionmessage.onion_message_packet)
    const first = vector.decrypt.hops[0]
    const wire = encodeOnionMessage({ pathKey: fromHex(vector.route.first_path_key), packet: m.success.packetBytes })
    expect(Result.isSuccess(wire) && "0201" + toHex(wire.success)).toBe(first?.onion_message)
  })

  it("each node forwards to the next node id with the next onion_message; Dave reads hello and his path_id", () => {
    vector.decrypt.hops.forEach((h, i) => {
      const msg = decodeOnionMessage(withoutType(h.onion_message))
      if (Result.isFailure(msg)) throw new Error(msg.failure._tag)
      const r = processOnionMessage(secp, ecdhWithSecret(secp, fromHex(h.privkey)), msg.success)
      if (Result.isFailure(r)) throw new Error(`${h.alias}: ${JSON.stringify(r.failure.reason)}`)
      if (r.success._tag === "Forward") {
        expect(toHex(r.success.nextNodeId ?? new Uint8Array())).toBe(h.next_node_id)
        const wire = encodeOnionMessage(r.success.next)
        expect(Result.isSuccess(wire) && "0201" + toHex(wire.success)).toBe(vector.decrypt.hops[i + 1]?.onion_message)
      } else {
        expect(h.alias).toBe("Dave")
        expect(r.success.payload.unknown).toEqual([{ type: 1n, value: fromHex("68656c6c6f") }])
        expect(toHex(r.success.payload.encryptedRecipientData ?? new Uint8Array())).toBe("tlvs" in h ? h.tlvs.encrypted_recipient_data : "")
        expect(toHex(r.success.pathId ?? new Uint8Array())).toBe(gen[3]?.tlvs.path_id)
      }
    })
  })

  it("refuses to encode an onion_message whose fields do not fit their wire types", () => {
    const badKey = encodeOnionMessage({ pathKey: new Uint8Array(32), packet: new Uint8Array(10) })
    expect(Result.isFailure(badKey) && badKey.failure.field).toBe("path_key")
    const huge = encodeOnionMessage({ pathKey: nodeAt(0).publicKey, packet: new Uint8Array(0x10000) })
    expect(Result.isFailure(huge) && huge.failure._tag).toBe("EncodeError")
  })

  it("drops a message for the wrong node, or with extra fields at a forwarding hop", () => {
    const h = vector.decrypt.hops[0]
    if (h === undefined) throw new Error("vector")
    const msg = decodeOnionMessage(withoutType(h.onion_message))
    if (Result.isFailure(msg)) throw new Error(msg.failure._tag)
    const wrong = processOnionMessage(secp, nodeAt(3).ecdh, msg.success)
    expect(Result.isFailure(wrong) && typeof wrong.failure.reason !== "string" && wrong.failure.reason._tag).toBe("InvalidOnionHmac")
    // A forwarding hop with a reply_path-like extra field is dropped.
    const path = createBlindedPath(secp, sessionKeyOf(1), [
      { nodeId: nodeAt(0).publicKey, data: { nextNodeId: nodeAt(1).publicKey } },
      { nodeId: nodeAt(1).publicKey, data: { pathId: new Uint8Array([7]) } }
    ])
    if (Result.isFailure(path)) throw new Error(path.failure._tag)
    const hops = path.success.hops.map((hop, i) => ({
      publicKey: hop.blindedNodeId,
      payload: { encryptedRecipientData: hop.encryptedRecipientData, ...(i === 0 ? { invoiceError: new Uint8Array([1]) } : {}) }
    }))
    const m = buildOnionMessage(secp, sessionKeyOf(2), hops)
    if (Result.isFailure(m)) throw new Error(m.failure._tag)
    const r = processOnionMessage(secp, nodeAt(0).ecdh, { pathKey: path.success.firstPathKey, packet: m.success.packetBytes })
    expect(Result.isFailure(r) && r.failure.reason).toBe("extra_fields_for_forward")
  })

  it("large messages use the 32768-byte payload size", () => {
    const path = createBlindedPath(secp, sessionKeyOf(3), [{ nodeId: nodeAt(0).publicKey, data: { pathId: new Uint8Array([1]) } }])
    if (Result.isFailure(path)) throw new Error(path.failure._tag)
    const hop = path.success.hops[0]
    if (hop === undefined) throw new Error("hop")
    const big = new Uint8Array(5000).fill(0x42)
    const m = buildOnionMessage(secp, sessionKeyOf(4), [{ publicKey: hop.blindedNodeId, payload: { encryptedRecipientData: hop.encryptedRecipientData, invoice: big } }])
    if (Result.isFailure(m)) throw new Error(m.failure._tag)
    expect(m.success.packetBytes.length).toBe(32768 + 66)
    const r = processOnionMessage(secp, nodeAt(0).ecdh, { pathKey: path.success.firstPathKey, packet: m.success.packetBytes })
    expect(Result.isSuccess(r) && r.success._tag === "Receive" && r.success.payload.invoice).toEqual(big)
  })

  it("onionmsg_tlv round-trips with a reply path, and garbage never throws", () => {
    const { sender } = build()
    const p = { replyPath: { firstNodeId: sender.firstNodeId, firstPathKey: sender.firstPathKey, hops: sender.hops }, invoiceRequest: new Uint8Array([1, 2]) }
    const bytes = encodeOnionMessagePayload(p)
    if (Result.isFailure(bytes)) throw new Error(bytes.failure._tag)
    const back = decodeOnionMessagePayload(bytes.success)
    expect(Result.isSuccess(back) && back.success).toEqual(p)
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: 33, maxLength: 33 }), (b, key) => {
        const d = decodeOnionMessagePayload(b)
        // Accepted streams are canonical: they re-encode to the same bytes.
        const again = Result.isSuccess(d) ? encodeOnionMessagePayload(d.success) : undefined
        const decodeOk = Result.isSuccess(d)
          ? again !== undefined && Result.isSuccess(again) && toHex(again.success) === toHex(b)
          : d.failure._tag.length > 0
        // Random bytes never carry a valid HMAC: the message is always dropped.
        const r = processOnionMessage(secp, nodeAt(0).ecdh, { pathKey: key, packet: b })
        return decodeOk && Result.isFailure(r) && r.failure._tag === "OnionMessageDropped"
      }),
      { numRuns: 10_000 }
    )
  })

  it("the final hop drops a message with more than one payload field (types >= 64)", () => {
    const path = createBlindedPath(secp, sessionKeyOf(5), [{ nodeId: nodeAt(0).publicKey, data: { pathId: new Uint8Array([1]) } }])
    if (Result.isFailure(path)) throw new Error(path.failure._tag)
    const hop = path.success.hops[0]
    if (hop === undefined) throw new Error("hop")
    const receive = (payload: Parameters<typeof encodeOnionMessagePayload>[0]) => {
      const m = buildOnionMessage(secp, sessionKeyOf(6), [{ publicKey: hop.blindedNodeId, payload: { encryptedRecipientData: hop.encryptedRecipientData, ...payload } }])
      if (Result.isFailure(m)) throw new Error(m.failure._tag)
      return processOnionMessage(secp, nodeAt(0).ecdh, { pathKey: path.success.firstPathKey, packet: m.success.packetBytes })
    }
    const two = receive({ invoiceRequest: new Uint8Array([1]), invoice: new Uint8Array([2]) })
    expect(Result.isFailure(two) && two.failure.reason).toBe("multiple_payload_fields")
    const oddExtra = receive({ invoiceError: new Uint8Array([1]), unknown: [{ type: 71n, value: new Uint8Array([2]) }] })
    expect(Result.isFailure(oddExtra) && oddExtra.failure.reason).toBe("multiple_payload_fields")
    // One payload field plus an odd record below 64 (like the vector's "hello") is fine.
    const one = receive({ invoiceRequest: new Uint8Array([1]), unknown: [{ type: 1n, value: new Uint8Array([2]) }] })
    expect(Result.isSuccess(one) && one.success._tag === "Receive" && one.success.pathId).toEqual(new Uint8Array([1]))
  })

  it("picks the 1300-byte size whenever the framed payloads fit exactly", () => {
    // Ten hops of 97-byte payloads (type, length, 95 bytes) take 10 * (1 + 97 + 32) = 1300 bytes.
    const hops = Array.from({ length: 10 }, (_, i) => ({ publicKey: nodeAt(i).publicKey, payload: { encryptedRecipientData: new Uint8Array(95).fill(i) } }))
    const m = buildOnionMessage(secp, sessionKeyOf(7), hops)
    expect(Result.isSuccess(m) && m.success.packetBytes.length).toBe(1300 + 66)
    const over = buildOnionMessage(secp, sessionKeyOf(7), hops.map((h, i) => (i === 0 ? { ...h, payload: { encryptedRecipientData: new Uint8Array(96) } } : h)))
    expect(Result.isSuccess(over) && over.success.packetBytes.length).toBe(32768 + 66)
  })
})
