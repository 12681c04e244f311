/**
 * BOLT 9 feature vectors from peer bytes: parsing, negotiation and checks never throw; bits
 * round-trip to the minimal encoding; an unknown even bit always fails negotiation (BOLT 1:
 * "MUST close the connection"); only assigned features are ever negotiated.
 */
import { Result } from "effect"
import { equalBytes, fromHex } from "../../src/protocol/bytes.ts"
import {
  checkInitFeatures,
  featureOfBit,
  featuresFromBytes,
  featuresToBytes,
  negotiatedBits,
  ourInitFeatures,
  unionFeatures,
  unknownRequiredBits,
  validateOwn
} from "../../src/protocol/features.ts"

export const seeds = ["", "a202", "8001", "0100000000", "02aaaa", "0a8a5a"].map(fromHex)

export function fuzz(data: Uint8Array): void {
  const bits = featuresFromBytes(data)
  let start = 0
  while (start < data.length && data[start] === 0) start++
  if (!equalBytes(featuresToBytes(bits), data.subarray(start))) throw new Error("feature bits do not round-trip")
  // The input split in two, as `init`'s `features` and `globalfeatures` (ORed by the receiver).
  const half = data.length >> 1
  const local = data.subarray(half)
  const global = data.subarray(0, half)
  const r = checkInitFeatures(local, global)
  if (Result.isFailure(r) && typeof r.failure._tag !== "string") throw new Error("untyped failure")
  const combined = unionFeatures(featuresFromBytes(local), featuresFromBytes(global))
  if (unknownRequiredBits(combined).length > 0 && Result.isSuccess(r)) throw new Error("unknown even bit accepted")
  for (const b of negotiatedBits(ourInitFeatures, data)) {
    if (featureOfBit(b) === undefined) throw new Error(`unassigned bit ${b} negotiated`)
  }
  const own = validateOwn(bits, "I")
  if (Result.isFailure(own) && typeof own.failure._tag !== "string") throw new Error("untyped failure")
}
