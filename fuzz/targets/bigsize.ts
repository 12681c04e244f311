/** BigSize decoder (BOLT 1 Appendix A): typed result, and a decoded value re-encodes to the bytes it came from. */
import { Result } from "effect"
import { decodeBigSize, encodeBigSize } from "../../src/protocol/codec/bigsize.ts"
import { fromHex } from "../../src/protocol/bytes.ts"

export const seeds = ["00", "fc", "fd00fd", "fdffff", "fe00010000", "feffffffff", "ff0000000100000000", "ffffffffffffffffff"].map(fromHex)

export function fuzz(data: Uint8Array): void {
  const r = decodeBigSize(data)
  if (Result.isSuccess(r)) {
    const again = encodeBigSize(r.success)
    const prefix = data.subarray(0, again.length)
    if (again.length !== prefix.length || again.some((b, i) => b !== prefix[i])) throw new Error("BigSize re-encoding differs")
  } else if (typeof r.failure._tag !== "string") throw new Error("untyped failure")
}
