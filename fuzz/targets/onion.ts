/**
 * BOLT 4 onions: arbitrary bytes as an onion packet to peel (payment size and the
 * onion-message size implied by the length), as an incoming HTLC's onion (with and without a
 * path key), as a hop payload, a failure message, a return packet and an onion message.
 * Everything must give a typed result; a hop payload, `onionmsg_tlv` or failure message that
 * decodes must re-encode to exactly the input bytes (a mismatch is a real bug and throws).
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Result } from "effect"
import { equalBytes } from "../../src/protocol/bytes.ts"
import { wasmSecp256k1 as secp } from "../../src/layers/crypto/secp256k1-wasm.ts"
import {
  buildPaymentOnion,
  decodeFailureMessage,
  decodeHopPayload,
  decodeOnionMessagePayload,
  decryptFailure,
  deriveSessionKeys,
  ecdhWithSecret,
  encodeFailureMessage,
  encodeHopPayload,
  encodeOnionMessagePayload,
  peelOnionBytes,
  processOnionMessage,
  processPaymentOnion
} from "../../src/protocol/onion/index.ts"
import type { ShortChannelId } from "../../src/protocol/codec/index.ts"
import { msat } from "../../src/protocol/units.ts"

const secretOf = (label: string) => sha256(new TextEncoder().encode(label))
const nodeSecret = secretOf("fuzz node 0")
const nextSecret = secretOf("fuzz node 1")
const ecdh = ecdhWithSecret(secp, nodeSecret)
const nodeId = secp.publicKey(nodeSecret) ?? new Uint8Array(33)
const nextId = secp.publicKey(nextSecret) ?? new Uint8Array(33)
const paymentHash = secretOf("fuzz payment hash")
const sessionKey = secretOf("fuzz session")
const secrets = (() => {
  const k = deriveSessionKeys(secp, sessionKey, [nodeId, nextId])
  return Result.isSuccess(k) ? k.success.sharedSecrets : []
})()

const validOnion = (() => {
  const b = buildPaymentOnion(secp, sessionKey, [
    { publicKey: nodeId, payload: { amtToForward: msat(1000n), outgoingCltvValue: 100, shortChannelId: 7n as ShortChannelId } },
    { publicKey: nextId, payload: { amtToForward: msat(1000n), outgoingCltvValue: 100 } }
  ], paymentHash)
  return Result.isSuccess(b) ? b.success.onion : new Uint8Array(1366)
})()

export const seeds: ReadonlyArray<Uint8Array> = [
  new Uint8Array([0, ...validOnion]),
  new Uint8Array([1, ...validOnion]),
  new Uint8Array([2, 0x02, 0x02, 0x03, 0xe8, 0x04, 0x01, 0x64]),
  new Uint8Array([3, 0x40, 0x0f, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0x0c, 0x35, 0])
]

export function fuzz(data: Uint8Array): void {
  const mode = data[0] ?? 0
  const rest = data.subarray(1)
  switch (mode % 5) {
    case 0: {
      peelOnionBytes(secp, ecdh, rest, paymentHash, { payloadsSize: 1300 })
      peelOnionBytes(secp, ecdh, rest, new Uint8Array(0), { minPayloadLength: 0 })
      break
    }
    case 1: {
      // Mostly-valid onions: take the real one and overwrite a window with the input.
      const onion = validOnion.slice()
      const at = rest.length > 0 ? ((rest[0] ?? 0) * 6) % onion.length : 0
      onion.set(rest.subarray(1, Math.min(rest.length, onion.length - at + 1)), at)
      processPaymentOnion(secp, ecdh, { onion, paymentHash, amountMsat: msat(5000n), cltvExpiry: 500 })
      processPaymentOnion(secp, ecdh, { onion, paymentHash, amountMsat: msat(5000n), cltvExpiry: 500, pathKey: nextId })
      break
    }
    case 2: {
      // Both decoders accept canonical streams only, so what they accept re-encodes byte for byte.
      const p = decodeHopPayload(rest)
      if (Result.isSuccess(p)) {
        const again = encodeHopPayload(p.success)
        if (Result.isFailure(again)) throw new Error(`decoded payload does not re-encode: ${again.failure.reason}`)
        if (!equalBytes(again.success, rest)) throw new Error("hop payload re-encoding differs")
      }
      const m = decodeOnionMessagePayload(rest)
      if (Result.isSuccess(m)) {
        const again = encodeOnionMessagePayload(m.success)
        if (Result.isFailure(again) || !equalBytes(again.success, rest)) throw new Error("onionmsg_tlv re-encoding differs")
      }
      break
    }
    case 3: {
      const f = decodeFailureMessage(rest)
      if (Result.isSuccess(f) && !equalBytes(encodeFailureMessage(f.success), rest)) {
        throw new Error("failure message re-encoding differs")
      }
      break
    }
    default: {
      const split = Math.min(rest.length, 300)
      decryptFailure(secrets, rest.subarray(0, split), rest.length > split ? rest.subarray(split) : undefined)
      processOnionMessage(secp, ecdh, { pathKey: nextId, packet: rest })
    }
  }
}
