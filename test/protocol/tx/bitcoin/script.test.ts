import fc from "fast-check"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { toHex } from "../../../../src/protocol/bytes.ts"
import { compileScript, decompileScript, encodePush, num, OP, p2wshScript, scriptNumBytes } from "../../../../src/protocol/tx/bitcoin/script.ts"
import { sha256 } from "@noble/hashes/sha2.js"

describe("script encoding", () => {
  it("encodes numbers minimally (CScriptNum)", () => {
    expect(toHex(scriptNumBytes(0))).toBe("")
    expect(toHex(scriptNumBytes(127))).toBe("7f")
    expect(toHex(scriptNumBytes(128))).toBe("8000")
    expect(toHex(scriptNumBytes(144))).toBe("9000")
    expect(toHex(scriptNumBytes(-1))).toBe("81")
    expect(toHex(scriptNumBytes(-128))).toBe("8080")
    expect(toHex(scriptNumBytes(500))).toBe("f401")
    expect(toHex(scriptNumBytes(0xffff))).toBe("ffff00")
    expect(num(0)).toBe(OP.OP_0)
    expect(num(16)).toBe(OP.OP_16)
    expect(num(-1)).toBe(OP.OP_1NEGATE)
    expect(toHex(compileScript([num(32)]))).toBe("0120")
  })

  it("uses the minimal push opcode for every length", () => {
    expect(toHex(encodePush(new Uint8Array(0)))).toBe("00")
    expect(toHex(encodePush(Uint8Array.of(5)))).toBe("55")
    expect(toHex(encodePush(Uint8Array.of(0x81)))).toBe("4f")
    expect(toHex(encodePush(Uint8Array.of(0)))).toBe("0100")
    expect(encodePush(new Uint8Array(75))[0]).toBe(75)
    expect(encodePush(new Uint8Array(76))[0]).toBe(OP.OP_PUSHDATA1)
    expect(encodePush(new Uint8Array(256))[0]).toBe(OP.OP_PUSHDATA2)
    expect(encodePush(new Uint8Array(70000))[0]).toBe(OP.OP_PUSHDATA4)
  })

  it("compile and decompile round-trip", () => {
    const chunk = fc.oneof(fc.integer({ min: 0x61, max: 0xff }), fc.uint8Array({ minLength: 2, maxLength: 300 }))
    fc.assert(
      fc.property(fc.array(chunk, { maxLength: 20 }), (chunks) => {
        const script = compileScript(chunks)
        const back = Result.getOrThrow(decompileScript(script))
        expect(back.length).toBe(chunks.length)
        back.forEach((c, i) => {
          const orig = chunks[i]
          if (typeof orig === "number") expect(c).toEqual({ _tag: "Op", opcode: orig })
          else expect(c._tag === "Push" && toHex(c.data)).toBe(toHex(orig ?? new Uint8Array(0)))
        })
      }),
      { numRuns: 2_000 }
    )
  })

  it("compileScript equals the concatenation of minimal pushes and opcodes", () => {
    const chunk = fc.oneof(fc.integer({ min: 0, max: 0xff }), fc.uint8Array({ maxLength: 3 }), fc.uint8Array({ maxLength: 600 }))
    fc.assert(
      fc.property(fc.array(chunk, { maxLength: 12 }), (chunks) => {
        const reference = chunks.map((c) => (typeof c === "number" ? toHex(Uint8Array.of(c)) : toHex(encodePush(c)))).join("")
        return toHex(compileScript(chunks)) === reference
      }),
      { numRuns: 2_000 }
    )
  })

  it("decompile never throws on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const r = decompileScript(bytes)
        return Result.isSuccess(r) || r.failure._tag === "ScriptDecodeError"
      }),
      { numRuns: 10_000 }
    )
  })
})

describe("p2wshScript", () => {
  it("is OP_0 <SHA256(witness script)> as compiled from its chunks, for scripts of 0-700 bytes (noble's and OpenSSL's hash sizes)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 700 }), (script) => {
        expect(toHex(p2wshScript(script))).toBe(toHex(compileScript([OP.OP_0, sha256(script)])))
      }),
      { numRuns: 300, seed: 18 }
    )
  })
})
