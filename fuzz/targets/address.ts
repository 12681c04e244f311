/** Address descriptor lists (BOLT 7) and `init`'s `remote_addr`: typed results, exact re-encoding. */
import { Result } from "effect"
import { equalBytes, fromHex } from "../../src/protocol/bytes.ts"
import { decodeWith } from "../../src/protocol/codec/reader.ts"
import { encodeWith } from "../../src/protocol/codec/writer.ts"
import { addressList, remoteAddress } from "../../src/protocol/messages/index.ts"

export const seeds = [
  "017f0000012607",
  "02000000000000000000000000000000012607",
  "030102030405060708090a0b0c",
  "04" + "ab".repeat(35) + "2607",
  "050b6578616d706c652e636f6d2607",
  "017f0000012607050b6578616d706c652e636f6d2607",
  "09aabb"
].map(fromHex)

export function fuzz(data: Uint8Array): void {
  const list = decodeWith(data, addressList.read)
  if (Result.isSuccess(list)) {
    const again = encodeWith((w) => addressList.write(w, list.success))
    if (Result.isFailure(again) || !equalBytes(again.success, data)) throw new Error("address list re-encoding differs")
  }
  const remote = decodeWith(data, remoteAddress.read)
  if (Result.isFailure(remote)) throw new Error("remote_addr must always decode (opaque fallback)")
  const again = encodeWith((w) => remoteAddress.write(w, remote.success))
  if (Result.isFailure(again) || !equalBytes(again.success, data)) throw new Error("remote_addr re-encoding differs")
}
