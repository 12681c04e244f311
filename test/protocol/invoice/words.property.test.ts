/**
 * BOLT 11 word packing: `wordsToBytesPad` in one pass gives exactly what the plain form gives
 * (`wordsToBytesTrim`, then the last partial byte from the low bits of the stream), for words
 * given as an array or as a view into a larger typed array, every length mod 8 included.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { wordsToBytesPad, wordsToBytesTrim } from "../../../src/protocol/invoice/words.ts"

/** The plain form (as src had it): trimmed bytes, then the padded last byte. */
const wordsToBytesPadPlain = (words: ArrayLike<number>): Uint8Array => {
  const out = new Uint8Array(Math.ceil((words.length * 5) / 8))
  out.set(wordsToBytesTrim(words))
  const rest = (words.length * 5) % 8
  if (rest !== 0) {
    let acc = 0
    const wordsNeeded = Math.ceil(rest / 5)
    for (let i = words.length - wordsNeeded; i < words.length; i++) acc = (acc << 5) | (words[i] ?? 0)
    const mask = (1 << rest) - 1
    out[out.length - 1] = ((acc & mask) << (8 - rest)) & 0xff
  }
  return out
}

describe("wordsToBytesPad", () => {
  const words = fc.array(fc.integer({ min: 0, max: 31 }), { maxLength: 300 })

  it("packs as the plain form does (arrays)", () => {
    fc.assert(fc.property(words, (w) => void expect(wordsToBytesPad(w)).toEqual(wordsToBytesPadPlain(w))), { numRuns: 500 })
  })

  it("packs as the plain form does (views into a larger array)", () => {
    fc.assert(
      fc.property(words, fc.nat({ max: 7 }), (w, offset) => {
        const view = new Uint8Array(offset + w.length + 3).subarray(offset, offset + w.length)
        view.set(w)
        expect(wordsToBytesPad(view)).toEqual(wordsToBytesPadPlain(view))
      }),
      { numRuns: 500 }
    )
  })

  it("pads the last byte with zero bits", () => {
    // 1 word: 5 bits -> one byte, the word at the top; 3 words: 15 bits -> two bytes.
    expect([...wordsToBytesPad([31])]).toEqual([0xf8])
    expect([...wordsToBytesPad([1, 2, 3])]).toEqual([0x08, 0x86])
    expect([...wordsToBytesPad([])]).toEqual([])
  })
})
