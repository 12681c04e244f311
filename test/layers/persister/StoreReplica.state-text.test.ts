/**
 * StoreReplica builds a state's text from cached texts of its frozen parts and a walk of the
 * rest (`encodeStateWithBlobs`): the bytes must be exactly those of the plain method, one
 * `JSON.stringify` of the whole state with every long string value cut out in text order (the
 * reference below), for any JSON value: frozen or not, shared parts, escapes, long keys,
 * `undefined` fields, `$blob` keys and values, and with the version header in front.
 */
import { assert, describe, it } from "@effect/vitest"
import type { Schema } from "effect"
import fc from "fast-check"
import { BLOB_MIN_LENGTH, decodeState, encodeStateWithBlobs } from "../../../src/layers/persister/StoreReplica.ts"

const utf8 = new TextEncoder()

/** The plain method: one JSON.stringify, then each string value of BLOB_MIN_LENGTH or more cut out. */
const reference = (s: Schema.Json, refer: (literal: string) => string, header: string): Uint8Array | undefined => {
  const text = JSON.stringify(s)
  if (text.includes('"$blob"')) return undefined
  const escapedAt = (at: number): boolean => {
    let n = 0
    for (let i = at - 1; i >= 0 && text.charCodeAt(i) === 0x5c; i--) n++
    return n % 2 === 1
  }
  let out = ""
  let from = 0
  let at = 0
  for (;;) {
    const open = text.indexOf('"', at)
    if (open < 0) break
    let close = text.indexOf('"', open + 1)
    while (close > 0 && escapedAt(close)) close = text.indexOf('"', close + 1)
    if (close - open - 1 >= BLOB_MIN_LENGTH && text.charCodeAt(close + 1) !== 0x3a) {
      out += text.slice(from, open) + `{"$blob":${JSON.stringify(refer(text.slice(open + 1, close)))}}`
      from = close + 1
    }
    at = close + 1
  }
  return utf8.encode(`${header}\u0001${out}${text.slice(from)}`)
}

/** A refer that numbers texts in the order it is asked, reusing the id of a text seen before. */
const numbering = () => {
  const ids = new Map<string, string>()
  const asked: Array<string> = []
  return {
    asked,
    refer: (literal: string) => {
      asked.push(literal)
      const id = ids.get(literal) ?? String(ids.size)
      ids.set(literal, id)
      return id
    }
  }
}

const deepFreeze = (j: Schema.Json): Schema.Json => {
  if (typeof j === "object" && j !== null && !Object.isFrozen(j)) {
    if (Array.isArray(j)) for (const x of j) deepFreeze(x)
    else for (const x of Object.values(j)) deepFreeze(x)
    Object.freeze(j)
  }
  return j
}

const longString = fc
  .tuple(fc.constantFrom("ab", "0f", 'q"', "\\x", "é", "\n"), fc.integer({ min: BLOB_MIN_LENGTH - 4, max: BLOB_MIN_LENGTH + 40 }))
  .map(([unit, n]) => unit.repeat(Math.ceil(n / unit.length)))
const leaf: fc.Arbitrary<Schema.Json> = fc.oneof(
  fc.string({ maxLength: 12 }),
  longString,
  fc.constantFrom("$blob", 'a"$blob', "", "\\"),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null)
)
const key = fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom("$blob", "0", "12", "__proto_", "onion"), longString)
const { json } = fc.letrec<{ json: Schema.Json }>((tie) => ({
  json: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.array(tie("json"), { maxLength: 4 }),
    fc.dictionary(key, tie("json"), { maxKeys: 4 }),
    // a frozen part (as the record's encoder shares them)
    tie("json").map(deepFreeze)
  )
}))

describe("StoreReplica state text", () => {
  it("is the plain JSON.stringify with long strings cut out, in the same order", () => {
    fc.assert(fc.property(json, fc.boolean(), (state, versioned) => {
    const header = versioned ? "\u00027\n" : ""
    const a = numbering()
    const b = numbering()
    const fast = encodeStateWithBlobs(state, a.refer, header)
    const plain = reference(state, b.refer, header)
    assert.deepStrictEqual(fast, plain)
    // (undefined: a `$blob` of the state's own; the texts asked before it was found are dropped)
    if (plain !== undefined) assert.deepStrictEqual(a.asked, b.asked)
    // And twice (the second time from the cached texts of its frozen parts).
    const c = numbering()
    assert.deepStrictEqual(encodeStateWithBlobs(state, c.refer, header), plain)
    if (plain !== undefined) assert.deepStrictEqual(c.asked, b.asked)
    }), { numRuns: 300 })
  })

  it("writes what JSON.stringify writes for undefined fields and array holes, and the state decodes back", () => {
    const onion = "cd".repeat(1366)
    const shared = deepFreeze({ params: { a: 1, b: "x" }, htlc: { onion } })
    const state = { shared, again: shared, list: [1, undefined, "y"], gone: undefined, top: onion } as unknown as Schema.Json
    const a = numbering()
    const b = numbering()
    const bytes = encodeStateWithBlobs(state, a.refer, "")
    assert.deepStrictEqual(bytes, reference(state, b.refer, ""))
    assert.deepStrictEqual(a.asked, [onion, onion, onion])
    if (bytes === undefined) throw new Error("no bytes")
    const decoded = decodeState(bytes, () => onion)
    assert.deepStrictEqual(decoded._tag, "Success")
    if (decoded._tag === "Success") assert.deepStrictEqual(decoded.success, JSON.parse(JSON.stringify(state)))
  })

  it("builds states larger than its reused buffer (grown, then dropped) and smaller ones after them", () => {
    const onion = "ef".repeat(1366)
    const row = (i: number) => deepFreeze({ id: String(i), note: "é\u2028\"x\"", onion, pad: "ab".repeat(200) })
    for (const n of [10, 100, 1000, 3]) {
      const state = { rows: Array.from({ length: n }, (_, i) => row(i)), loose: Array.from({ length: n }, (_, i) => ({ i, s: "ü".repeat(i % 7) })) } as unknown as Schema.Json
      const a = numbering()
      const b = numbering()
      assert.deepStrictEqual(encodeStateWithBlobs(state, a.refer, "\u00021\n"), reference(state, b.refer, "\u00021\n"))
      assert.deepStrictEqual(a.asked, b.asked)
    }
  })
})
