/**
 * The dispatcher the Peer decodes with (BOLT 1 and BOLT 2 messages) and every message
 * decoder: typed results only, and an accepted message re-encodes to exactly the bytes it came
 * from.
 */
import { Result } from "effect"
import { equalBytes, fromHex } from "../../src/protocol/bytes.ts"
import { LightningMessages } from "../../src/protocol/messages/index.ts"

export const seeds = [
  "001000000000",
  "001000000000c9012acb0104",
  "0010000000010a0307017f0000012607",
  "00100000000201400140" + "6fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000",
  "0010000000000313050b6578616d706c652e636f6d2607",
  "0011" + "00".repeat(32) + "000568656c6c6f",
  "0001" + "11".repeat(32) + "0000",
  "0012000400020000",
  "00130000",
  "001300000301ff",
  "000700020102",
  "80010000",
  // BOLT 2: update_fee, shutdown, update_fulfill_htlc, revoke_and_ack, channel_reestablish with a TLV.
  "0086" + "22".repeat(32) + "000003e8",
  "0026" + "22".repeat(32) + "0016" + "0014" + "33".repeat(20),
  "0082" + "22".repeat(32) + "0000000000000001" + "44".repeat(32),
  "0085" + "22".repeat(32) + "55".repeat(32) + "02" + "66".repeat(32),
  "0088" + "22".repeat(32) + "0000000000000002" + "0000000000000001" + "77".repeat(32) + "03" + "88".repeat(32) + "0021" + "99".repeat(32) + "01"
].map(fromHex)

export function fuzz(data: Uint8Array): void {
  const r = LightningMessages.decode(data)
  if (Result.isSuccess(r)) {
    if (r.success._tag === "UnknownMessage") {
      // Only an odd type may be passed up to be ignored (BOLT 1), with its payload intact.
      const u = r.success
      if (u.type % 2 !== 1 || u.type !== (((data[0] ?? 0) << 8) | (data[1] ?? 0)) || !equalBytes(u.payload, data.subarray(2))) {
        throw new Error(`unknown message ${u.type} misreported`)
      }
    } else {
      const again = LightningMessages.encode(r.success)
      if (Result.isFailure(again) || !equalBytes(again.success, data)) throw new Error(`re-encoding of ${r.success._tag} differs`)
    }
  } else if (typeof r.failure._tag !== "string") throw new Error("untyped failure")
  // Each definition's own decoder, on the same payload under its type.
  if (data.length >= 2) {
    for (const def of LightningMessages.defs) {
      const bytes = Uint8Array.of(def.type >> 8, def.type & 0xff, ...data.subarray(2))
      const m = def.decode(bytes)
      if (Result.isSuccess(m)) {
        const again = def.encode(m.success as never)
        if (Result.isFailure(again) || !equalBytes(again.success, bytes)) throw new Error(`${def.name} re-encoding differs`)
      }
    }
  }
}
