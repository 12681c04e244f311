/**
 * The `init` message (BOLT 1 "The init Message"): both feature bitmaps and the `init_tlvs`
 * extension (`networks` = chains of interest, `remote_addr` = how the sender sees us).
 * Feature bitmaps stay raw bytes here; `protocol/features.ts` interprets them (BOLT 9).
 */
import { Result, Schema } from "effect"
import { equalBytes, fromHex } from "../bytes.ts"
import * as Field from "../codec/fields.ts"
import { ChainHash, type Codec } from "../codec/fields.ts"
import { defineMessage, type MessageType } from "../codec/message.ts"
import { attempt, Reader } from "../codec/reader.ts"
import { tlvField, tlvStream } from "../codec/tlv.ts"
import { type Address, AddressSchema, readAddress, writeAddress } from "./address.ts"

/**
 * What a peer put in `remote_addr`. A descriptor we cannot parse (a future type, a bad
 * length) is kept as `Opaque` rather than failing `init`: the field is advisory, and
 * rejecting it would disconnect peers over information we only MAY use.
 */
export const OpaqueAddress = Schema.TaggedStruct("Opaque", { bytes: Schema.Uint8ArrayFromHex })
export const RemoteAddressSchema = Schema.Union([AddressSchema, OpaqueAddress])
export type RemoteAddress = Address | typeof OpaqueAddress.Type

export const remoteAddress: Codec<RemoteAddress> = {
  read: (r) => {
    const raw = r.rest()
    const parsed = attempt(() => {
      const sub = new Reader(raw)
      const a = readAddress(sub)
      return sub.atEnd ? a : undefined
    })
    return Result.isSuccess(parsed) && parsed.success !== undefined ? parsed.success : { _tag: "Opaque", bytes: raw }
  },
  write: (w, a) => {
    if (a._tag === "Opaque") w.bytes(a.bytes)
    else writeAddress(w, a)
  },
  schema: RemoteAddressSchema,
  wire: [{ element: "byte", count: "..." }]
}

export const InitTlvs = tlvStream("init_tlvs", {
  networks: tlvField(1, Field.restArray(Field.chainHash)),
  remoteAddr: tlvField(3, remoteAddress)
})

export const Init = defineMessage({
  type: 16,
  name: "init",
  tag: "Init",
  fields: {
    globalFeatures: Field.u16Bytes,
    features: Field.u16Bytes
  },
  tlvs: InitTlvs
})
export type Init = MessageType<typeof Init>

/** Genesis block hashes in wire order (BOLT 0 `chain_hash`: not byte-reversed). */
export const ChainHashes = {
  bitcoin: ChainHash(fromHex("6fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000")),
  testnet3: ChainHash(fromHex("43497fd7f826957108f4a30fd9cec3aeba79972084e90ead01ea330900000000")),
  testnet4: ChainHash(fromHex("43f08bdab050e35b567c864b91f47f50ae725ae2de53bcfbbaf284da00000000")),
  signet: ChainHash(fromHex("f61eee3b63a380a477a063af32b2bbc97c9ff9f01f2c4225e973988108000000")),
  regtest: ChainHash(fromHex("06226e46111a0b59caaf126043eb5bbf28c34f3a5e332a1fc7b2b73cf188910f"))
} as const

/**
 * Whether the remote's `networks` shares a chain with ours. A remote that sends no
 * `networks` has not restricted itself, so it counts as compatible. BOLT 1: upon `networks`
 * with no common chain the receiver MAY close the connection.
 */
export const sharesNetwork = (ours: ReadonlyArray<ChainHash>, remote: Init): boolean => {
  const theirs = remote.tlvs.networks
  if (theirs === undefined) return true
  return theirs.some((c) => ours.some((o) => equalBytes(o, c)))
}
