import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { flatHex } from "../../src/actors/ChannelManager.ts"
import { toHex } from "../../src/protocol/bytes.ts"

/** The definition: the prefix, then each part's lowercase hex, joined by the separator. */
const plain = (parts: ReadonlyArray<Uint8Array>, separator: string, prefix: string): string => prefix + parts.map(toHex).join(separator)

describe("flatHex", () => {
  it("is the prefix and the parts' hex joined by the separator, for ASCII and other separators and prefixes, past the scratch buffer's size", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 4 }),
        fc.oneof(fc.constant(""), fc.constant("/"), fc.string({ maxLength: 3 }), fc.string({ unit: "binary", maxLength: 3 })),
        fc.oneof(fc.constant(""), fc.string({ maxLength: 5 }), fc.string({ unit: "binary", maxLength: 5 })),
        (parts, separator, prefix) => {
          expect(flatHex(parts, separator, prefix)).toBe(plain(parts, separator, prefix))
        }
      ),
      { numRuns: 2000, seed: 13 }
    )
  })
})
