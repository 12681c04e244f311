import { Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { fromHex, toHex } from "../../src/protocol/bytes.ts"
import {
  OUR_FEATURES,
  allowedIn,
  buildFeatures,
  checkDependencies,
  checkInitFeatures,
  FEATURES,
  featureBits,
  featureOfBit,
  featuresFromBytes,
  featuresToBytes,
  MAX_LISTED_UNKNOWN_BITS,
  negotiate,
  negotiatedBits,
  offeredFeatures,
  offers,
  orFeatureBytes,
  ourInitFeatureBits,
  ourInitFeatures,
  ourInvoiceFeatures,
  ourNodeFeatures,
  ourReceiveInvoiceFeatures,
  requires,
  unionFeatures,
  unknownOptionalBits,
  unknownRequiredBits,
  validateOwn
} from "../../src/protocol/features.ts"
import table from "../vectors/bolt09-feature-bits.json" with { type: "json" }

describe("BOLT 9 feature table", () => {
  it("matches bolt09-feature-bits.json exactly (bits, names, ASSUMED, contexts, dependencies)", () => {
    expect(
      FEATURES.map((f) => ({
        even_bit: f.evenBit,
        odd_bit: f.oddBit,
        name: f.name,
        assumed: f.assumed,
        context: f.contexts.join(""),
        dependencies: [...f.dependencies]
      }))
    ).toEqual(table.features)
  })
  for (const v of table.features) {
    it(`bits ${v.even_bit}/${v.odd_bit} belong to ${v.name}`, () => {
      expect(featureOfBit(v.even_bit)?.name).toBe(v.name)
      expect(featureOfBit(v.odd_bit)?.name).toBe(v.name)
      const info = featureOfBit(v.even_bit)
      if (info === undefined) throw new Error("missing")
      for (const c of ["I", "N", "9", "T", "B"] as const) {
        expect(allowedIn(info, c)).toBe(v.context.includes(c) || info.legacyContexts.includes(c))
      }
      // Dependencies are enforced: offering the feature alone fails when it has any.
      const alone = featureBits(v.odd_bit)
      const missing = checkDependencies(alone)
      if (v.dependencies.length === 0) expect(missing).toBeUndefined()
      else expect(missing).toMatchObject({ _tag: "MissingFeatureDependency", feature: v.name, dependency: v.dependencies[0] })
      // ...and satisfied when the dependencies are offered too.
      const deps = v.dependencies.map((d) => table.features.find((f) => f.name === d)?.odd_bit ?? -1)
      expect(checkDependencies(featureBits(v.odd_bit, ...deps))).toBeUndefined()
    })
  }
})

describe("feature bit vectors", () => {
  it("bit 0 is the least significant bit of the last byte", () => {
    expect([...featuresFromBytes(fromHex("0100"))]).toEqual([8])
    expect([...featuresFromBytes(fromHex("a202"))].sort((a, b) => a - b)).toEqual([1, 9, 13, 15])
    expect(toHex(featuresToBytes(featureBits(1, 9, 13, 15)))).toBe("a202")
    expect(toHex(featuresToBytes(featureBits()))).toBe("")
    // Leading zero bytes are dropped on encoding (minimal length).
    expect(toHex(featuresToBytes(featuresFromBytes(fromHex("000002"))))).toBe("02")
  })
  it("init ORs globalfeatures and features", () => {
    expect([...unionFeatures(featureBits(1), featureBits(13))].sort()).toEqual([1, 13])
  })
  it("offered / required", () => {
    const bits = featureBits(0, 13, 16)
    expect(offers(bits, "option_data_loss_protect")).toBe(true)
    expect(requires(bits, "option_data_loss_protect")).toBe(true)
    expect(requires(bits, "option_static_remotekey")).toBe(false)
    expect(offeredFeatures(bits)).toEqual(["option_data_loss_protect", "option_static_remotekey", "basic_mpp"])
    expect(unknownRequiredBits(featureBits(1, 20, 100, 101))).toEqual([20, 100])
    expect(unknownOptionalBits(featureBits(1, 20, 100, 101))).toEqual([101])
  })
})

describe("our advertised features", () => {
  it("are exactly the four optional bits we implement", () => {
    expect([...ourInitFeatureBits].sort((a, b) => a - b)).toEqual([1, 5, 9, 13, 15, 23, 27, 37, 45, 47, 51, 61])
    expect(toHex(ourInitFeatures)).toBe("2008a0200880a222")
    expect([...ourNodeFeatures].sort((a, b) => a - b)).toEqual([1, 5, 9, 13, 15, 23, 27, 37, 45, 47, 51, 61])
    expect([...ourInvoiceFeatures].sort((a, b) => a - b)).toEqual([9, 15, 37])
    // The invoices we create: var_onion_optin and payment_secret required, basic_mpp and option_attribution_data optional.
    expect(ourReceiveInvoiceFeatures).toEqual([8, 14, 17, 37])
    expect(validateOwn(new Set(ourReceiveInvoiceFeatures), "9")).toEqual(Result.succeed(new Set(ourReceiveInvoiceFeatures)))
    expect(validateOwn(ourInitFeatureBits, "I")).toEqual(Result.succeed(ourInitFeatureBits))
  })
  it("building a set checks dependencies and contexts", () => {
    expect(buildFeatures("I", [["basic_mpp", "optional"]])).toMatchObject(
      Result.fail({ _tag: "MissingFeatureDependency", feature: "basic_mpp", dependency: "payment_secret" })
    )
    expect(Result.getOrThrow(buildFeatures("I", [["basic_mpp", "optional"], ["payment_secret", "required"]]))).toEqual(featureBits(17, 14))
    // Features not presented in a context are left out (option_payment_metadata is invoice-only).
    expect(Result.getOrThrow(buildFeatures("I", [["option_payment_metadata", "optional"]]))).toEqual(featureBits())
    expect(Result.getOrThrow(buildFeatures("T", [["option_anchors", "required"], ["option_static_remotekey", "optional"]]))).toEqual(featureBits(22))
    expect(validateOwn(featureBits(22, 23), "I")).toMatchObject(Result.fail({ _tag: "BothFeatureBitsSet" }))
    expect(validateOwn(featureBits(49), "I")).toMatchObject(Result.fail({ _tag: "FeatureNotInContext", feature: "option_payment_metadata" }))
  })
})

describe("negotiation (BOLT 1 init)", () => {
  it("negotiates what both offer, ignores unknown odd bits", () => {
    const r = Result.getOrThrow(negotiate(ourInitFeatureBits, featureBits(0, 9, 13, 14, 17, 23, 101)))
    expect([...r.features].sort()).toEqual(["option_anchors", "option_data_loss_protect", "option_static_remotekey", "payment_secret", "var_onion_optin"])
    expect(r.ignoredBits).toEqual([101])
  })
  it("a feature we require is negotiated even if the peer did not offer it", () => {
    const r = Result.getOrThrow(negotiate(featureBits(0), featureBits()))
    expect([...r.features]).toEqual(["option_data_loss_protect"])
  })
  it("fails on unknown required bits and on known features we do not support", () => {
    expect(negotiate(ourInitFeatureBits, featureBits(1, 20))).toMatchObject(
      Result.fail({ _tag: "UnsupportedRequiredFeatures", unknownBits: [20], unsupported: [] })
    )
    expect(negotiate(ourInitFeatureBits, featureBits(28))).toMatchObject(
      Result.fail({ _tag: "UnsupportedRequiredFeatures", unknownBits: [], unsupported: ["option_dual_fund"] })
    )
  })
  it("fails when the peer breaks a dependency rule", () => {
    expect(negotiate(ourInitFeatureBits, featureBits(17))).toMatchObject(Result.fail({ _tag: "MissingFeatureDependency", feature: "basic_mpp" }))
  })
  it("works on wire bytes", () => {
    const same = Result.getOrThrow(checkInitFeatures(fromHex("a202")))
    expect([...same.features].sort()).toEqual(["option_data_loss_protect", "option_static_remotekey", "payment_secret", "var_onion_optin"])
    // globalfeatures are ORed in: 0x1000 is bit 12 (static_remotekey required, which we offer).
    expect([...Result.getOrThrow(checkInitFeatures(fromHex("00"), fromHex("1000"))).features]).toEqual(["option_static_remotekey"])
    // 0x100000 is bit 20: unassigned and even.
    expect(checkInitFeatures(fromHex("00"), fromHex("100000"))).toMatchObject(
      Result.fail({ _tag: "UnsupportedRequiredFeatures", unknownBits: [20], unsupported: [] })
    )
    // 0x8001: bits 0 (data_loss_protect required) and 15 (payment_secret optional).
    expect(negotiatedBits(ourInitFeatures, fromHex("8001"))).toEqual([0, 15])
    expect(negotiatedBits(ourInitFeatures, fromHex("0100000000"))).toEqual([])
  })
})

describe("negotiation on wire bytes", () => {
  it("ORs vectors of different lengths aligned at bit 0", () => {
    expect(toHex(orFeatureBytes(fromHex("0100"), fromHex("02")))).toBe("0102")
    expect(toHex(orFeatureBytes(fromHex("80"), fromHex("a20200")))).toBe("a20280")
    expect(toHex(orFeatureBytes(new Uint8Array(0), new Uint8Array(0)))).toBe("")
  })
  it("agrees with negotiate on the union of the bit sets", () => {
    const vector = fc.uint8Array({ maxLength: 8 })
    fc.assert(
      fc.property(vector, vector, vector, (local, global, oursBytes) => {
        const ours = featuresFromBytes(oursBytes)
        const expected = negotiate(ours, unionFeatures(featuresFromBytes(local), featuresFromBytes(global)))
        expect(checkInitFeatures(local, global, ours)).toEqual(expected)
      }),
      { numRuns: 10_000 }
    )
  })
  it("a hostile vector of every bit fails with a bounded list of the lowest unknown even bits", () => {
    const all = new Uint8Array(0xffff).fill(0xff)
    const r = checkInitFeatures(all, all)
    if (Result.isSuccess(r)) throw new Error("a vector with unknown even bits was accepted")
    expect(r.failure._tag).toBe("UnsupportedRequiredFeatures")
    if (r.failure._tag !== "UnsupportedRequiredFeatures") return
    expect(r.failure.unknownBits).toEqual(unknownRequiredBits(featuresFromBytes(all)).slice(0, MAX_LISTED_UNKNOWN_BITS))
    expect(negotiatedBits(ourInitFeatures, all)).toEqual([])
  })
  it("only unknown odd bits: accepted, the ignored ones listed up to the bound", () => {
    const odd = new Uint8Array(1000).fill(0xaa) // every odd bit
    const r = Result.getOrThrow(checkInitFeatures(odd))
    expect([...r.features].sort()).toEqual(OUR_FEATURES.map(([name]) => name).sort())
    expect(r.ignoredBits).toEqual(unknownOptionalBits(featuresFromBytes(odd)).slice(0, MAX_LISTED_UNKNOWN_BITS))
    expect(r.ignoredBits.length).toBe(MAX_LISTED_UNKNOWN_BITS)
  })
})
