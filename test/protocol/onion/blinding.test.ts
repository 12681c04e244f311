import fc from "fast-check"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import vector from "../../vectors/bolt04/route-blinding-test.json" with { type: "json" }
import { fromHex, toHex } from "../../../src/protocol/bytes.ts"
import { type ShortChannelId, Writer } from "../../../src/protocol/codec/index.ts"
import {
  blindedNodeSecret,
  createBlindedPath,
  decodeBlindedPath,
  decryptBlindedHop,
  deriveKey,
  ecdhWithSecret,
  encodeEncryptedData,
  encryptedDataTlv,
  writeBlindedPath
} from "../../../src/protocol/onion/index.ts"
import { nodeAt, secp, sessionKeyOf } from "./fixtures.ts"

const gen = vector.generate.hops

describe("route blinding (route-blinding-test.json)", () => {
  // Bob builds Bob -> Carol and joins Eve's Dave -> Eve path with next_path_key_override.
  const build = (from: number, to: number, sessionKey: string) => {
    const r = createBlindedPath(
      secp,
      fromHex(sessionKey),
      gen.slice(from, to).map((h) => ({ nodeId: fromHex(h.node_id), data: fromHex(h.encoded_tlvs) }))
    )
    if (Result.isFailure(r)) throw new Error(r.failure._tag)
    return r.success
  }
  const bob = build(0, 2, gen[0]?.session_key ?? "")
  const eve = build(2, 4, gen[2]?.session_key ?? "")
  const hops = [...bob.hops, ...eve.hops]
  const pathKeys = [...bob.pathKeys, ...eve.pathKeys]
  const secrets = [...bob.sharedSecrets, ...eve.sharedSecrets]

  it("builds the blinded node ids, path keys and encrypted data of every hop", () => {
    expect(toHex(bob.firstNodeId)).toBe(vector.route.first_node_id)
    expect(toHex(bob.firstPathKey)).toBe(vector.route.first_path_key)
    gen.forEach((h, i) => {
      expect(toHex(pathKeys[i] ?? new Uint8Array())).toBe(h.path_key)
      expect(toHex(secrets[i] ?? new Uint8Array())).toBe(h.shared_secret)
      expect(toHex(deriveKey("rho", secrets[i] ?? new Uint8Array()))).toBe(h.rho)
      expect(toHex(hops[i]?.blindedNodeId ?? new Uint8Array())).toBe(h.blinded_node_id)
      expect(toHex(hops[i]?.encryptedRecipientData ?? new Uint8Array())).toBe(h.encrypted_data)
    })
    expect(hops.map((h) => toHex(h.blindedNodeId))).toEqual(vector.route.hops.map((h) => h.blinded_node_id))
  })

  it("encodes the encrypted_data_tlv values of the vector from their fields", () => {
    const bobData = encryptedDataTlv.decode(fromHex(gen[0]?.encoded_tlvs ?? ""))
    if (Result.isFailure(bobData)) throw new Error(bobData.failure._tag)
    expect(bobData.success.shortChannelId).toBe(1729n as ShortChannelId)
    expect(bobData.success.paymentRelay).toEqual({ cltvExpiryDelta: 36, feeProportionalMillionths: 150, feeBaseMsat: 10000 })
    expect(bobData.success.paymentConstraints).toEqual({ maxCltvExpiry: 748005, htlcMinimumMsat: 1500n })
    expect(bobData.success.unknown?.[0]?.type).toBe(561n)
    for (const h of gen) {
      const d = encryptedDataTlv.decode(fromHex(h.encoded_tlvs))
      if (Result.isFailure(d)) throw new Error(d.failure._tag)
      expect(toHex(encodeEncryptedData(d.success))).toBe(h.encoded_tlvs)
    }
  })

  it("each node unblinds its hop: blinded key, decrypted data and next path key", () => {
    vector.unblind.hops.forEach((u, i) => {
      const secret = fromHex(u.node_privkey)
      expect(toHex(blindedNodeSecret(secp, secret, fromHex(u.path_key)) ?? new Uint8Array())).toBe(u.blinded_privkey)
      const d = decryptBlindedHop(secp, ecdhWithSecret(secp, secret), fromHex(u.path_key), hops[i]?.encryptedRecipientData ?? new Uint8Array())
      if (Result.isFailure(d)) throw new Error(d.failure.reason)
      expect(toHex(d.success.plaintext)).toBe(u.decrypted_data)
      // Carol's data overrides the next path key with Eve's path key for Dave.
      expect(toHex(d.success.nextPathKey)).toBe("next_path_key_override" in u ? u.next_path_key_override : u.next_path_key)
    })
  })

  it("fails with a typed error for the wrong node, a bad tag or bad plaintext", () => {
    const u = vector.unblind.hops[0]
    if (u === undefined) throw new Error("vector")
    const wrong = decryptBlindedHop(secp, nodeAt(0).ecdh, fromHex(u.path_key), hops[0]?.encryptedRecipientData ?? new Uint8Array())
    expect(Result.isFailure(wrong) && wrong.failure.reason).toBe("decryption_failed")
    const short = decryptBlindedHop(secp, ecdhWithSecret(secp, fromHex(u.node_privkey)), fromHex(u.path_key), new Uint8Array(3))
    expect(Result.isFailure(short) && short.failure.reason).toBe("decryption_failed")
    const badKey = decryptBlindedHop(secp, ecdhWithSecret(secp, fromHex(u.node_privkey)), new Uint8Array(33), new Uint8Array(20))
    expect(Result.isFailure(badKey) && badKey.failure.reason).toBe("bad_path_key")
    // A path that encrypts an unknown even record is refused once decrypted.
    const evil = createBlindedPath(secp, sessionKeyOf(5), [{ nodeId: nodeAt(1).publicKey, data: fromHex("020100") }])
    if (Result.isFailure(evil)) throw new Error(evil.failure._tag)
    const r = decryptBlindedHop(secp, nodeAt(1).ecdh, evil.success.firstPathKey, evil.success.hops[0]?.encryptedRecipientData ?? new Uint8Array())
    expect(Result.isFailure(r) && r.failure.reason).toBe("invalid_tlv")
  })

  it("random paths decrypt hop by hop to the data that went in", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer(), fc.uint8Array({ maxLength: 40 }), (n, seed, pathId) => {
        const nodes = Array.from({ length: n }, (_, i) => ({
          nodeId: nodeAt(i).publicKey,
          data: i === n - 1 ? { pathId } : { nextNodeId: nodeAt(i + 1).publicKey, padding: new Uint8Array(i) }
        }))
        const path = createBlindedPath(secp, sessionKeyOf(seed), nodes)
        if (Result.isFailure(path)) return false
        let key = path.success.firstPathKey
        for (let i = 0; i < n; i++) {
          const hop = path.success.hops[i]
          if (hop === undefined) return false
          const node = nodeAt(i)
          const blinded = blindedNodeSecret(secp, node.secret, key)
          if (blinded === undefined || toHex(secp.publicKey(blinded) ?? new Uint8Array()) !== toHex(hop.blindedNodeId)) return false
          const d = decryptBlindedHop(secp, node.ecdh, key, hop.encryptedRecipientData)
          if (Result.isFailure(d)) return false
          if (i === n - 1 && toHex(d.success.data.pathId ?? new Uint8Array(1)) !== toHex(pathId)) return false
          key = d.success.nextPathKey
        }
        return true
      }),
      { numRuns: 60 }
    )
  })

  it("blinded_path round-trips through its codec, and garbage never throws", () => {
    const w = new Writer(2048)
    writeBlindedPath(w, { firstNodeId: bob.firstNodeId, firstPathKey: bob.firstPathKey, hops })
    const decoded = decodeBlindedPath(w.finish())
    if (Result.isFailure(decoded)) throw new Error(decoded.failure._tag)
    expect(decoded.success.hops.map((h) => toHex(h.encryptedRecipientData))).toEqual(hops.map((h) => toHex(h.encryptedRecipientData)))
    const sciddir = decodeBlindedPath(fromHex("01" + "0000000000000001" + (vector.route.first_path_key) + "00"))
    expect(Result.isSuccess(sciddir) && sciddir.success.firstNodeId.length).toBe(9)
    // Arbitrary bytes: typed errors, and whatever decodes re-encodes to the very same bytes.
    const reencodePath = (p: Parameters<typeof writeBlindedPath>[1]) => {
      const out = new Writer(256)
      writeBlindedPath(out, p)
      return toHex(out.finish())
    }
    const blindedPathLike = fc
      .tuple(fc.constantFrom(0, 1, 2, 3), fc.uint8Array({ maxLength: 200 }))
      .map(([first, rest]) => new Uint8Array([first, ...rest]))
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), blindedPathLike), (b) => {
        const r = decodeBlindedPath(b)
        const t = encryptedDataTlv.decode(b)
        const pathOk = Result.isSuccess(r) ? reencodePath(r.success) === toHex(b) : r.failure._tag.length > 0
        const tlvOk = Result.isSuccess(t) ? toHex(encodeEncryptedData(t.success)) === toHex(b) : t.failure._tag.length > 0
        return pathOk && tlvOk
      }),
      { numRuns: 10_000 }
    )
  })

  it("refuses to blind an empty path", () => {
    const r = createBlindedPath(secp, sessionKeyOf(6), [])
    expect(Result.isFailure(r) && r.failure._tag).toBe("EmptyRoute")
  })
})
