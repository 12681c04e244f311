/**
 * TLV streams (BOLT 1): raw and typed decoders give typed results; an accepted stream
 * re-encodes to exactly the same bytes (canonical, unknown odd records kept).
 */
import { Result } from "effect"
import { equalBytes, fromHex } from "../../src/protocol/bytes.ts"
import * as F from "../../src/protocol/codec/fields.ts"
import { decodeRawTlvStream, encodeRawTlvStream, tlvField, tlvStream } from "../../src/protocol/codec/tlv.ts"

const stream = tlvStream("fuzz", {
  amount: tlvField(1, F.tu64),
  scid: tlvField(2, F.shortChannelId),
  node: tlvField(3, F.struct({ nodeId: F.point, a: F.u64, b: F.u64 })),
  hashes: tlvField(5, F.restArray(F.sha256)),
  delta: tlvField(254, F.u16),
  expiry: tlvField(0x10000, F.tu32),
  flag: tlvField(0x10002, F.empty)
})

export const seeds = [
  "",
  "0100",
  "01080100000000000000",
  "02080000000000000226",
  "0331023da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb00000000000000010000000000000002",
  "fd00fe020226",
  "2100fd020100fe0200000100",
  "0101010208000000000000022605200000000000000000000000000000000000000000000000000000000000000000fe000100000101fe0001000200"
].map(fromHex)

export function fuzz(data: Uint8Array): void {
  const raw = decodeRawTlvStream(data)
  if (Result.isSuccess(raw) && !equalBytes(encodeRawTlvStream(raw.success), data)) throw new Error("raw TLV re-encoding differs")
  const typed = stream.decode(data)
  if (Result.isSuccess(typed) && !equalBytes(stream.encode(typed.success), data)) throw new Error("typed TLV re-encoding differs")
}
