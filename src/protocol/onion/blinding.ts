/**
 * Route blinding (BOLT 4 "Route Blinding"): the recipient builds a `blinded_path` of blinded
 * node ids and `encrypted_recipient_data` blobs; each node in it derives, from the `path_key`
 * handed along with the onion, the shared secret that decrypts its blob, and the next path key.
 * Used by payment onions and by onion messages alike (and by BOLT 12 offers and invoices).
 *
 *   ss_i = SHA256(e_i * N_i) = SHA256(k_i * E_i)        rho_i = HMAC256("rho", ss_i)
 *   B_i = HMAC256("blinded_node_id", ss_i) * N_i       E_{i+1} = SHA256(E_i || ss_i) * E_i
 *   encrypted_recipient_data_i = ChaCha20-Poly1305(rho_i, zero nonce, encrypted_data_tlv_i)
 */
import { chacha20poly1305 } from "@noble/ciphers/chacha.js"
import { sha256 } from "@noble/hashes/sha2.js"
import { Data, Result } from "effect"
import { concatBytes } from "../bytes.ts"
import {
  type Codec,
  type DecodeError,
  decodeWith,
  fail,
  Field,
  InvalidFieldValue,
  type Reader,
  tlvField,
  tlvStream,
  type TlvValues,
  type Writer
} from "../codec/index.ts"
import type { Secp256k1 } from "../crypto/secp256k1.ts"
import { deriveKey } from "./keys.ts"
import { EmptyRoute, InvalidHopPublicKey, InvalidSessionKey, type NodeEcdh } from "./sphinx.ts"

// ---------------------------------------------------------------------------------------------
// encrypted_data_tlv

export interface PaymentRelay {
  readonly cltvExpiryDelta: number
  readonly feeProportionalMillionths: number
  readonly feeBaseMsat: number
}

export interface PaymentConstraints {
  readonly maxCltvExpiry: number
  readonly htlcMinimumMsat: bigint
}

/** `payment_relay`: `u16 cltv_expiry_delta`, `u32 fee_proportional_millionths`, `tu32 fee_base_msat`. */
const paymentRelayCodec: Codec<PaymentRelay> = Field.struct({
  cltvExpiryDelta: Field.u16,
  feeProportionalMillionths: Field.u32,
  feeBaseMsat: Field.tu32
})

/** `payment_constraints`: `u32 max_cltv_expiry`, `tu64 htlc_minimum_msat`. */
const paymentConstraintsCodec: Codec<PaymentConstraints> = Field.struct({
  maxCltvExpiry: Field.u32,
  htlcMinimumMsat: Field.tu64
})

/** BOLT 4 `encrypted_data_tlv`: what the recipient tells each node of its blinded path. */
export const encryptedDataTlv = tlvStream("encrypted_data_tlv", {
  padding: tlvField(1, Field.restBytes),
  shortChannelId: tlvField(2, Field.shortChannelId),
  nextNodeId: tlvField(4, Field.point),
  pathId: tlvField(6, Field.restBytes),
  nextPathKeyOverride: tlvField(8, Field.point),
  paymentRelay: tlvField(10, paymentRelayCodec),
  paymentConstraints: tlvField(12, paymentConstraintsCodec),
  allowedFeatures: tlvField(14, Field.restBytes)
})
export type EncryptedData = TlvValues<typeof encryptedDataTlv.fields>

/** Serializes `encrypted_data_tlv` (records in type order, unknown odd records included). */
export const encodeEncryptedData = (data: EncryptedData): Uint8Array => encryptedDataTlv.encode(data)

// ---------------------------------------------------------------------------------------------
// blinded_path

export interface BlindedHop {
  readonly blindedNodeId: Uint8Array
  readonly encryptedRecipientData: Uint8Array
}

/** BOLT 4 `blinded_path`. */
export interface BlindedPath {
  /** `sciddir_or_pubkey`: a 33-byte node id, or 9 bytes (direction byte 0/1 + short_channel_id). */
  readonly firstNodeId: Uint8Array
  readonly firstPathKey: Uint8Array
  readonly hops: ReadonlyArray<BlindedHop>
}

/** A node of the path to blind, with the (unencrypted) data for it. */
export interface BlindedPathNode {
  readonly nodeId: Uint8Array
  /** `encrypted_data_tlv` as a value, or already serialized. */
  readonly data: EncryptedData | Uint8Array
}

const ZERO_NONCE = new Uint8Array(12)

/** The per-hop derivations along the path key chain. */
export interface BlindedPathSecrets {
  readonly pathKeys: ReadonlyArray<Uint8Array>
  readonly sharedSecrets: ReadonlyArray<Uint8Array>
}

/** Next path key: E_{i+1} = SHA256(E_i || ss_i) * E_i (when not overridden). */
export const nextPathKey = (secp: Secp256k1, pathKey: Uint8Array, sharedSecret: Uint8Array): Uint8Array | undefined =>
  secp.pointMultiply(pathKey, sha256(concatBytes(pathKey, sharedSecret)))

/**
 * Builds a blinded path to the last of `nodes` (BOLT 4 "Route Blinding", the writer). The
 * session key e_0 is an argument (drawn from `Entropy` by the caller). To concatenate with a
 * path built by someone else, put their first path key in `nextPathKeyOverride` of the last
 * node's data here, and append their hops.
 */
export const createBlindedPath = (
  secp: Secp256k1,
  sessionKey: Uint8Array,
  nodes: ReadonlyArray<BlindedPathNode>
): Result.Result<BlindedPath & BlindedPathSecrets, InvalidSessionKey | InvalidHopPublicKey | EmptyRoute> => {
  const introduction = nodes[0]
  if (introduction === undefined) return Result.fail(new EmptyRoute())
  let e = sessionKey
  const firstPathKey = secp.publicKey(sessionKey)
  if (firstPathKey === undefined || sessionKey.length !== 32) return Result.fail(new InvalidSessionKey())
  let E = firstPathKey
  const hops: Array<BlindedHop> = []
  const pathKeys: Array<Uint8Array> = []
  const sharedSecrets: Array<Uint8Array> = []
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i]
    if (node === undefined) continue
    const ss = secp.ecdh(e, node.nodeId)
    const blindedNodeId = ss === undefined ? undefined : secp.pointMultiply(node.nodeId, deriveKey("blinded_node_id", ss))
    if (ss === undefined || blindedNodeId === undefined) return Result.fail(new InvalidHopPublicKey({ index: i }))
    const plain = node.data instanceof Uint8Array ? node.data : encodeEncryptedData(node.data)
    const encryptedRecipientData = chacha20poly1305(deriveKey("rho", ss), ZERO_NONCE).encrypt(plain)
    hops.push({ blindedNodeId, encryptedRecipientData })
    pathKeys.push(E)
    sharedSecrets.push(ss)
    const factor = sha256(concatBytes(E, ss))
    const nextE = secp.secretMultiply(e, factor)
    const nextEPub = nextE === undefined ? undefined : secp.publicKey(nextE)
    if (nextE === undefined || nextEPub === undefined) return Result.fail(new InvalidSessionKey())
    e = nextE
    E = nextEPub
  }
  return Result.succeed({ firstNodeId: introduction.nodeId, firstPathKey, hops, pathKeys, sharedSecrets })
}

// ---------------------------------------------------------------------------------------------
// Reading a blinded hop

/** Why a blinded hop could not be read: the node must fail (payments) or drop (messages). */
export class InvalidBlindedHop extends Data.TaggedError("InvalidBlindedHop")<{
  readonly reason: "bad_path_key" | "decryption_failed" | "invalid_tlv"
  readonly cause?: DecodeError
}> {}

export interface DecryptedBlindedHop {
  readonly data: EncryptedData
  /** The decrypted `encrypted_data_tlv` bytes. */
  readonly plaintext: Uint8Array
  /** ss_i = ECDH(node key, path key). */
  readonly sharedSecret: Uint8Array
  /** `next_path_key_override` when present, else SHA256(E_i || ss_i) * E_i. */
  readonly nextPathKey: Uint8Array
}

/** The reader of `encrypted_recipient_data` (BOLT 4): decrypts with the path key, computes the next one. */
export const decryptBlindedHop = (
  secp: Secp256k1,
  ecdh: NodeEcdh,
  pathKey: Uint8Array,
  encryptedRecipientData: Uint8Array
): Result.Result<DecryptedBlindedHop, InvalidBlindedHop> => {
  const ss = ecdh(pathKey)
  if (ss === undefined) return Result.fail(new InvalidBlindedHop({ reason: "bad_path_key" }))
  let plaintext: Uint8Array
  try {
    plaintext = chacha20poly1305(deriveKey("rho", ss), ZERO_NONCE).decrypt(encryptedRecipientData)
  } catch {
    // noble throws on a bad tag or a too-short input: both mean "does not decrypt".
    return Result.fail(new InvalidBlindedHop({ reason: "decryption_failed" }))
  }
  const data = encryptedDataTlv.decode(plaintext)
  if (Result.isFailure(data)) return Result.fail(new InvalidBlindedHop({ reason: "invalid_tlv", cause: data.failure }))
  const next = data.success.nextPathKeyOverride ?? nextPathKey(secp, pathKey, ss)
  if (next === undefined) return Result.fail(new InvalidBlindedHop({ reason: "bad_path_key" }))
  return Result.succeed({ data: data.success, plaintext, sharedSecret: ss, nextPathKey: next })
}

/** b_i = HMAC256("blinded_node_id", ss_i) * k_i: the private key of a blinded node id. */
export const blindedNodeSecret = (
  secp: Secp256k1,
  nodeSecret: Uint8Array,
  pathKey: Uint8Array
): Uint8Array | undefined => {
  const ss = secp.ecdh(nodeSecret, pathKey)
  return ss === undefined ? undefined : secp.secretMultiply(nodeSecret, deriveKey("blinded_node_id", ss))
}

// ---------------------------------------------------------------------------------------------
// blinded_path codec (onion message reply paths, BOLT 12)

const readSciddirOrPubkey = (r: Reader): Uint8Array => {
  const at = r.offset
  const first = r.u8()
  if (first === 0 || first === 1) return concatBytes(new Uint8Array([first]), r.bytes(8))
  if (first === 2 || first === 3) return concatBytes(new Uint8Array([first]), r.bytes(32))
  return fail(new InvalidFieldValue({ at, field: "sciddir_or_pubkey", reason: `bad first byte ${first}` }))
}

export const readBlindedPath = (r: Reader): BlindedPath => {
  const firstNodeId = readSciddirOrPubkey(r)
  const firstPathKey = r.point()
  const n = r.u8()
  const hops: Array<BlindedHop> = []
  for (let i = 0; i < n; i++) {
    const blindedNodeId = r.point()
    hops.push({ blindedNodeId, encryptedRecipientData: r.bytes(r.u16()) })
  }
  return { firstNodeId, firstPathKey, hops }
}

export const writeBlindedPath = (w: Writer, p: BlindedPath): void => {
  w.bytes(p.firstNodeId).fixed("first_path_key", p.firstPathKey, 33).u8(p.hops.length)
  for (const h of p.hops) w.fixed("blinded_node_id", h.blindedNodeId, 33).u16(h.encryptedRecipientData.length).bytes(h.encryptedRecipientData)
}

export const decodeBlindedPath = (bytes: Uint8Array): Result.Result<BlindedPath, DecodeError> =>
  decodeWith(bytes, (r) => {
    const p = readBlindedPath(r)
    if (!r.atEnd) fail(new InvalidFieldValue({ at: r.offset, field: "blinded_path", reason: "trailing bytes" }))
    return p
  })
