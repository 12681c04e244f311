/**
 * BOLT 8 handshake and transport on arbitrary bytes: the input is fed as act 1 to a responder,
 * as act 2 to an initiator, as act 3 to a responder (each state taken from the spec vectors, so
 * well-formed inputs reach the ECDH and MAC checks), and as a transport packet. Every step must
 * return a typed result; an act or packet that authenticates must be the genuine one (anything
 * else would be a forgery, i.e. a broken MAC check); a decrypted packet must re-encrypt to the
 * same bytes.
 */
import { Result } from "effect"
import vectors from "../../test/vectors/bolt08-transport.json" with { type: "json" }
import { nodeChaChaPoly } from "../../src/layers/crypto/aead-node.ts"
import { wasmSecp256k1 } from "../../src/layers/crypto/secp256k1-wasm.ts"
import { equalBytes, fromHex } from "../../src/protocol/bytes.ts"
import {
  decryptPacket,
  encryptMessage,
  initiatorActOne,
  initiatorActTwo,
  makeCipherState,
  responderActOne,
  responderActThree,
  responderActTwo,
  responderStart,
  type NoiseCrypto
} from "../../src/protocol/noise/index.ts"

const crypto: NoiseCrypto = { secp: wasmSecp256k1, aead: nodeChaChaPoly }
const init = vectors.initiator_tests[0]
const resp = vectors.responder_tests[0]
if (init === undefined || resp === undefined || resp.act_three === undefined) throw new Error("BOLT 8 vectors missing")

const ecdh = (secret: Uint8Array, point: Uint8Array): Uint8Array => crypto.secp.ecdh(secret, point) ?? new Uint8Array(32)
const respSecret = fromHex(resp.ls_priv)
const genuineAct1 = fromHex(resp.act_one.input)
const genuineAct2 = fromHex(init.act_two.input)
const genuineAct3 = fromHex(resp.act_three.input)

const initiatorWaiting = Result.getOrThrow(
  initiatorActOne(crypto, { localStatic: fromHex(init.ls_pub), remoteStatic: fromHex(init.rs_pub), ephemeralSecret: fromHex(init.e_priv) })
).state
const responderWaiting = Result.getOrThrow(responderStart(crypto, { localStatic: fromHex(resp.ls_pub), ephemeralSecret: fromHex(resp.e_priv) }))
const responderNeeds = Result.getOrThrow(responderActOne(crypto, responderWaiting, genuineAct1))
const responderAct3 = Result.getOrThrow(responderActTwo(crypto, responderNeeds, ecdh(respSecret, responderNeeds.point))).state

const m = vectors.message_encryption
const cipher = makeCipherState(fromHex(m.sk), fromHex(m.ck))
const genuinePacket = Result.getOrThrow(encryptMessage(crypto.aead, cipher, fromHex(m.plaintext))).packet

export const seeds: ReadonlyArray<Uint8Array> = [genuineAct1, genuineAct2, genuineAct3, genuinePacket]

const typed = (r: Result.Result<unknown, { readonly _tag: string }>): void => {
  if (Result.isFailure(r) && !r.failure._tag.startsWith("Noise")) throw new Error(`untyped failure ${String(r.failure)}`)
}

export function fuzz(data: Uint8Array): void {
  const one = responderActOne(crypto, responderWaiting, data)
  typed(one)
  if (Result.isSuccess(one)) {
    const two = responderActTwo(crypto, one.success, ecdh(respSecret, one.success.point))
    typed(two)
    if (Result.isSuccess(two) && !equalBytes(data, genuineAct1)) throw new Error("forged act 1 accepted")
  }
  const two = initiatorActTwo(crypto, initiatorWaiting, data)
  typed(two)
  if (Result.isSuccess(two) && !equalBytes(data, genuineAct2)) throw new Error("forged act 2 accepted")
  const three = responderActThree(crypto, responderAct3, data)
  typed(three)
  if (Result.isSuccess(three) && !equalBytes(data, genuineAct3)) throw new Error("forged act 3 accepted")
  const packet = decryptPacket(crypto.aead, cipher, data)
  typed(packet)
  if (Result.isSuccess(packet)) {
    const again = encryptMessage(crypto.aead, cipher, packet.success.message)
    if (Result.isFailure(again) || !equalBytes(again.success.packet, data)) throw new Error("packet does not re-encrypt to itself")
  }
}
