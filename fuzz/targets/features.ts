/** BOLT 9 feature vectors from peer bytes: parsing, negotiation and checks never throw; bits round-trip. */
import { Result } from "effect"
import { fromHex } from "../../src/protocol/bytes.ts"
import { checkInitFeatures, featuresFromBytes, featuresToBytes, negotiatedBits, ourInitFeatures, validateOwn } from "../../src/protocol/features.ts"

export const seeds = ["", "a202", "8001", "0100000000", "02aaaa", "0a8a5a"].map(fromHex)

export function fuzz(data: Uint8Array): void {
  const bits = featuresFromBytes(data)
  const back = featuresToBytes(bits)
  let start = 0
  while (start < data.length && data[start] === 0) start++
  const minimal = data.subarray(start)
  if (back.length !== minimal.length || back.some((b, i) => b !== minimal[i])) throw new Error("feature bits do not round-trip")
  const half = data.length >> 1
  const r = checkInitFeatures(data.subarray(half), data.subarray(0, half))
  if (Result.isFailure(r) && typeof r.failure._tag !== "string") throw new Error("untyped failure")
  negotiatedBits(ourInitFeatures, data)
  validateOwn(bits, "I")
}
